//! vexfs-unified-server: a thread-per-core vector database speaking Qdrant's REST API.
//!
//! A request's path through the tree: [`http`] (bytes → request) → [`router`] (method + path →
//! route) → [`qdrant`] (JSON → typed operation) → [`runtime`] (to the core owning the shard) →
//! `vexfs_shard` (the engine) → `vexfs_io` (files).

pub mod admin;
pub mod auth;
pub mod config;
pub mod http;
pub mod limits;
pub mod qdrant;
pub mod router;
pub mod runtime;
