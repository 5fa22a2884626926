//! The table of one kernel family on one instruction set: what the dispatchers cache.

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
