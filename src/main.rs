//! The `lwsplan` binary: all logic lives in the library.

fn main() -> std::process::ExitCode {
    lwsplan::cli_main()
}
