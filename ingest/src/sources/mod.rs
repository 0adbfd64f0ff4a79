//! Where contacts and events come from: the gRPC intake service and the
//! Kafka consumer. Both hand every record to `admit`; nothing but `app`
//! imports this folder.
pub mod cluster;
pub mod forward;
pub mod grpc;
pub mod kafka;
pub mod members;
