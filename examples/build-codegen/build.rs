//! Plans and renders deploy/llama.yaml when the crate is built; a deployment that does not fit
//! fails the build with the planner's message.

fn main() {
    let generated = lwsplan::codegen::Codegen::new()
        .deployment("deploy/llama.yaml")
        .run();
    if let Err(e) = generated {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
