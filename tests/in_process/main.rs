//! The sequence driven inside this process, through `Builder::run_to_report` and
//! `Builder::run_async` with hooks registered at run time (each run has its own `Shutdown`, so
//! the tests run in parallel); and the check that the committed gRPC code is what the
//! generator writes, and what `graceful::listen_unix` does with the file at its path. One
//! binary, so that the suite links once.

mod grpc_codegen;
mod metrics;
mod run_async;
mod sequence;
mod services;
mod snapshot;
mod spans;
#[cfg(unix)]
mod unix_socket;
