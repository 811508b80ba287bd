//! Generates the gRPC code of the serving benchmark's servers from `proto/work.proto`: the
//! example's service, copied here so that the package builds on its own (`tests/variants.rs`
//! checks that the copy is the example's).

fn main() {
    println!("cargo::rerun-if-changed=proto/work.proto");
    let descriptors =
        protox::compile(["work.proto"], ["proto"]).expect("proto/work.proto compiles");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(true)
        .compile_fds(descriptors)
        .expect("tonic's generator writes the code");
}
