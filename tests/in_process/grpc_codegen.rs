//! The Rust code generated for `examples/proto/work.proto` is committed next to it
//! (`examples/proto/graceful.example.rs`), so that building the examples and tests needs no
//! `protoc` and the published package no build script. This test regenerates it with a
//! pure-Rust protobuf compiler (protox) and tonic's generator, into a temporary directory,
//! and fails if the committed file differs: it cannot go stale.
//!
//! After changing the proto (or upgrading tonic), refresh the file with
//! `GRACEFUL_REGENERATE=1 cargo test --test in_process grpc_codegen`, then read the diff.

use std::path::Path;

use graceful_test_support::TempDir;

const PROTO_DIR: &str = "examples/proto";
const PROTO: &str = "work.proto";
/// What tonic's generator names the file: the proto's package.
const GENERATED: &str = "graceful.example.rs";

#[test]
fn the_committed_code_for_work_proto_is_what_the_generator_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let proto_dir = root.join(PROTO_DIR);
    let descriptors = protox::compile([PROTO], [&proto_dir])
        .unwrap_or_else(|error| panic!("{PROTO_DIR}/{PROTO} does not compile: {error}"));

    let out = TempDir::new("grpc-codegen");
    tonic_prost_build::configure()
        .out_dir(out.path())
        .emit_rerun_if_changed(false)
        .build_server(true)
        .build_client(true)
        .build_transport(true)
        .compile_fds(descriptors)
        .expect("tonic's generator writes the code");
    let generated = std::fs::read_to_string(out.join(GENERATED))
        .unwrap_or_else(|error| panic!("the generator wrote no {GENERATED}: {error}"));

    let committed_path = proto_dir.join(GENERATED);
    if std::env::var_os("GRACEFUL_REGENERATE").is_some() {
        std::fs::write(&committed_path, &generated).expect("write the generated code");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(old, new)| old != new)
            .map_or_else(
                || "one file is a prefix of the other".to_owned(),
                |line| format!("first difference at line {}", line + 1),
            );
        panic!(
            "{} is stale ({first_difference}): regenerate it with \
             `GRACEFUL_REGENERATE=1 cargo test --test in_process grpc_codegen` and commit it",
            committed_path.display()
        );
    }
}
