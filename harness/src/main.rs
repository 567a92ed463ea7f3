//! The `evalkit` binary: see [`evalkit::cli`].

fn main() -> std::process::ExitCode {
    evalkit::cli::main()
}
