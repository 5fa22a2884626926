//! The table of one kernel family on one instruction set: what the dispatchers cache, and
//! [`detected_kernels!`], which every per-ISA file uses to hand its table out.

/// Three distance kernels that share an instruction set. `Q` is the query's element type,
/// `S` the stored vector's. Every function compares `min(query.len(), stored.len())`
/// elements, so mismatched lengths never read out of bounds.
pub struct Kernels<Q: 'static, S: 'static> {
    /// Instruction set, e.g. `"avx2+fma"` or `"scalar"` (shown by benches and logs).
    pub isa: &'static str,
    /// Inner product.
    pub dot: fn(&[Q], &[S]) -> f32,
    /// Squared Euclidean distance.
    pub squared_euclid: fn(&[Q], &[S]) -> f32,
    /// Manhattan (L1) distance.
    pub manhattan: fn(&[Q], &[S]) -> f32,
}

// Manual impls: a derive would demand `Q: Copy, S: Copy`, which the fn pointers do not need.
impl<Q, S> Clone for Kernels<Q, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<Q, S> Copy for Kernels<Q, S> {}

impl<Q, S> std::fmt::Debug for Kernels<Q, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels").field("isa", &self.isa).finish()
    }
}

/// f32 query against f32 storage.
pub type F32Kernels = Kernels<f32, f32>;

/// Defines `kernels()`, the table of three `#[target_feature]` kernels that returns `None`
/// unless `detected` holds at run time, and the private safe wrappers the table holds. They
/// are sound because no caller can reach a wrapper except through a table that was only built
/// after the detection succeeded.
macro_rules! detected_kernels {
    (
        $(#[$doc:meta])*
        table: $table:ident($q:ty, $s:ty),
        isa: $isa:literal,
        detected: $detected:expr,
        dot: $dot:path,
        squared_euclid: $squared_euclid:path,
        manhattan: $manhattan:path $(,)?
    ) => {
        $(#[$doc])*
        pub(super) fn kernels() -> Option<$table> {
            if $detected {
                Some($table {
                    isa: $isa,
                    dot,
                    squared_euclid,
                    manhattan,
                })
            } else {
                None
            }
        }

        fn dot(a: &[$q], b: &[$s]) -> f32 {
            // SAFETY: only reachable through the table `kernels()` builds after detection.
            unsafe { $dot(a, b) }
        }

        fn squared_euclid(a: &[$q], b: &[$s]) -> f32 {
            // SAFETY: as for `dot`.
            unsafe { $squared_euclid(a, b) }
        }

        fn manhattan(a: &[$q], b: &[$s]) -> f32 {
            // SAFETY: as for `dot`.
            unsafe { $manhattan(a, b) }
        }
    };
}
pub(crate) use detected_kernels;
