//! The `hotline.v1` wire contract: protobuf messages, the `Intake` and `Stats`
//! gRPC services, and serde impls that follow the protobuf JSON mapping
//! (camelCase names, enums as names, timestamps as RFC 3339).
#![allow(clippy::all, clippy::pedantic)]

pub mod codec;

pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/hotline.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/hotline.v1.serde.rs"));

    /// Encoded `FileDescriptorSet` of `hotline.v1`, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/hotline_descriptor.bin"));
}

pub use pbjson_types::Timestamp;
