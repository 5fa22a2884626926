//! Every fixed limit of the server, named with its unit. Configurable ones are defaults of
//! the `[limits]` config section.

/// Largest request body, in bytes: Qdrant's default `max_request_size_mb` (32 MiB).
pub const BODY_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Largest request head (request line + headers), in bytes.
pub const HEAD_MAX_BYTES: usize = 64 * 1024;
/// Most header fields in one request.
pub const HEADERS_MAX_COUNT: usize = 100;
/// Time from the first byte of a request to the end of its head.
pub const HEAD_TIMEOUT_MS: u64 = 10_000;
/// Time to receive a whole body once its head is in.
pub const BODY_TIMEOUT_MS: u64 = 60_000;
/// Time an idle keep-alive connection stays open.
pub const IDLE_TIMEOUT_MS: u64 = 120_000;
/// Open client connections one core serves at once; more are answered 503 and closed.
/// actix-web's default `max_connections` per worker, which is what Qdrant runs with.
pub const CONNECTIONS_MAX_PER_CORE: usize = 25_000;
/// Pipelined requests answered on one connection before their answers must be written out.
/// actix-http's bound on pipelined messages per connection.
pub const PIPELINE_MAX_IN_FLIGHT: usize = 16;
/// Deepest nesting of arrays/objects accepted in a JSON body: serde_json's recursion limit,
/// which Qdrant's JSON extractor inherits.
pub const JSON_DEPTH_MAX: usize = 128;
/// Answers of pipelined requests held in memory before they are written, in bytes. A client
/// that stops reading holds at most this plus one answer (and the kernel's socket buffers).
pub const OUTPUT_BUFFER_MAX_BYTES: usize = 256 * 1024;
/// Connections being refused (503, then a short linger) at once per core; past this a refused
/// connection is closed without an answer, so a connection flood cannot pile up tasks.
pub const REFUSALS_MAX_IN_FLIGHT: usize = 256;
/// How long a refused connection is drained after its 503 before it is closed.
pub const REFUSAL_LINGER_MS: u64 = 200;

/// Memory glommio registers for io_uring buffers per executor, in bytes. Must stay below
/// RLIMIT_MEMLOCK divided by the core count (8 MiB on the reference box) and ≥ 512 KiB.
pub const IO_MEMORY_BYTES: usize = 2 * 1024 * 1024;

/// Entries of each executor's io_uring rings (glommio's default).
pub const IO_RING_DEPTH: usize = 128;

/// Longest a task runs before cooperative yield points give way (glommio's default).
pub const PREEMPT_TIMER_MS: u64 = 100;
/// Depth of each directed channel of the core-to-core mesh, in messages.
pub const MESH_CHANNEL_DEPTH: usize = 1024;
/// Time given to open connections to finish after SIGINT/SIGTERM.
pub const SHUTDOWN_GRACE_MS: u64 = 10_000;

/// Longest collection name, in bytes (Qdrant's limit).
pub const COLLECTION_NAME_MAX_BYTES: usize = 255;
/// Most shards a collection may be split into.
pub const SHARDS_MAX_COUNT: u32 = 256;
/// Largest vector dimension accepted (Qdrant's limit).
pub const VECTOR_DIM_MAX: usize = 65_536;
/// Points (or ids) one request may carry: upsert, vectors update, retrieve, delete.
pub const POINTS_PER_REQUEST_MAX: usize = 100_000;
/// Searches in one batch request, and operations in one `points/batch`.
pub const SEARCHES_PER_BATCH_MAX: usize = 1_000;
/// Largest `offset` of a search: deeper pages cost a full top-(offset + limit) per shard.
pub const RESULT_OFFSET_MAX: usize = 1_000_000;
/// Largest `limit` of a search or scroll page.
pub const RESULT_LIMIT_MAX: usize = 100_000;
/// Longest vector name accepted by `PUT /collections/{c}/vectors/{name}`, in bytes (names are
/// stored in every segment's column list).
pub const VECTOR_NAME_MAX_BYTES: usize = 1024;
