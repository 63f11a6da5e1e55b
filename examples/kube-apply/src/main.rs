//! Plans DeepSeek-R1 on 8 × H100 nodes, renders its LeaderWorkerSet and Service, and applies
//! both to the cluster of the current kubeconfig with server-side apply, then reads the
//! LeaderWorkerSet's status back — typed, through `Api<LeaderWorkerSet>`.
//!
//! Run against a cluster with LWS installed: `cargo run -- llm` (the namespace).

use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use lwsplan::manifest::LeaderWorkerSet;
use lwsplan::{Catalog, PlanOptions, Planner, RenderOptions, Renderer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let namespace = std::env::args().nth(1).unwrap_or_else(|| "default".into());
    let catalog = Catalog::builtin();
    let plan = Planner::new(
        catalog.model("deepseek-r1")?,
        catalog.hardware("h100-80gb")?,
    )
    .plan(&PlanOptions::default())?;
    let options = RenderOptions {
        namespace: Some(namespace.clone()),
        ..RenderOptions::default()
    };
    let manifests = Renderer::new(options)?.render(&plan)?;
    // Validate what is about to be applied, as `lwsplan render` does.
    let problems = lwsplan::validate(&manifests);
    if !problems.is_empty() {
        return Err(format!("{problems:?}").into());
    }

    let client = Client::try_default().await?;
    let apply = PatchParams::apply("lwsplan").force();
    let sets: Api<LeaderWorkerSet> = Api::namespaced(client.clone(), &namespace);
    let name = manifests
        .leader_worker_set
        .metadata
        .name
        .clone()
        .unwrap_or_default();
    sets.patch(&name, &apply, &Patch::Apply(&manifests.leader_worker_set))
        .await?;
    let services: Api<Service> = Api::namespaced(client, &namespace);
    let service = manifests.service.metadata.name.clone().unwrap_or_default();
    services
        .patch(&service, &apply, &Patch::Apply(&manifests.service))
        .await?;

    let live = sets.get_status(&name).await?;
    let ready = live.status.and_then(|s| s.ready_replicas).unwrap_or(0);
    println!("applied {name} and {service} in {namespace}: {ready} group(s) ready");
    Ok(())
}
