//! Same input, byte-identical output: across runs, and whatever order a file lists its maps in.

use lwsplan::Deployment;

const ONE_ORDER: &str = "\
model: deepseek-r1
hardware: h100-80gb
plan:
  launcher: native
  max_model_len: auto
render:
  name: r1
  labels: {team: inference, tier: prod, app.example.com/owner: llm}
  annotations: {b.example.com/x: '2', a.example.com/y: '1'}
  env: [{name: A, value: '1'}]
";

const ANOTHER_ORDER: &str = "\
render:
  annotations: {a.example.com/y: '1', b.example.com/x: '2'}
  env: [{name: A, value: '1'}]
  labels: {app.example.com/owner: llm, tier: prod, team: inference}
  name: r1
plan:
  max_model_len: auto
  launcher: native
hardware: h100-80gb
model: deepseek-r1
";

fn render(text: &str) -> String {
    let (_, manifests) = Deployment::from_yaml(text, "test")
        .unwrap()
        .render()
        .unwrap();
    manifests.to_yaml().unwrap()
}

#[test]
fn map_order_in_the_input_does_not_change_the_output() {
    assert_eq!(render(ONE_ORDER), render(ANOTHER_ORDER));
}

#[test]
fn repeated_renders_are_byte_identical() {
    let first = render(ONE_ORDER);
    for _ in 0..20 {
        assert_eq!(render(ONE_ORDER), first);
    }
    // Maps come out sorted; apiVersion, kind and metadata lead each document.
    assert!(first.starts_with(
        "apiVersion: leaderworkerset.x-k8s.io/v1\nkind: LeaderWorkerSet\nmetadata:\n"
    ));
    let labels = first.find("app.example.com/owner").unwrap();
    assert!(labels < first.find("    team: inference").unwrap());
}
