//! The `elixir-scope` command.

fn main() -> std::process::ExitCode {
    elixir_scope_cli::main()
}
