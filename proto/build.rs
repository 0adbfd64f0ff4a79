//! Compiles `proto/hotline/v1/*.proto` with protox (no system `protoc`), then
//! generates prost messages, tonic services and pbjson serde impls (the
//! protobuf JSON mapping).
use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/hotline/v1/hotline.proto"];
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(protos, ["proto"])?;
    let fds_path = out.join("hotline_descriptor.bin");
    let bytes = fds.encode_to_vec();
    std::fs::write(&fds_path, &bytes)?;

    tonic_build::configure()
        .skip_protoc_run()
        .file_descriptor_set_path(&fds_path)
        .codec_path("crate::codec::StrictCodec")
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_protos(&protos, &["proto"])?;

    pbjson_build::Builder::new()
        .register_descriptors(&bytes)?
        .build(&[".hotline.v1"])?;

    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    Ok(())
}
