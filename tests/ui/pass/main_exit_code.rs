// `main` may return `std::process::ExitCode`: the exit code when the shutdown is otherwise
// clean, as with `trigger_with_code`.
#![deny(warnings)]

#[graceful::main]
async fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
