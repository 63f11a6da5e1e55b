//! Plans and renders deploy/llama.yaml when the crate is built; a deployment that does not fit
//! fails the build with the planner's message and its causes.

fn main() {
    let generated = lwsplan::codegen::Codegen::new()
        .deployment("deploy/llama.yaml")
        .run();
    if let Err(e) = generated {
        eprintln!("{}", lwsplan::Report(&e));
        std::process::exit(1);
    }
}
