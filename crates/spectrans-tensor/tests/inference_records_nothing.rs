//! Inference on constants records no tape and allocates little more than its outputs.
//!
//! A counting global allocator wraps the system allocator; an MLP-like chain
//! `matmul_t → add bias → gelu → matmul_t → tanh → sum` runs once on constants and once on
//! watched parameters, and the heap blocks each run requests are compared. This file holds a
//! single test so that no other test allocates concurrently.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use spectrans_tensor::{Parameter, Rng, Tape, Tensor, Transpose};

/// Counts every block requested from the system allocator (alloc, alloc_zeroed, realloc), on any thread.
struct CountingAllocator;

static BLOCKS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; only a counter is added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BLOCKS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        BLOCKS.fetch_add(1, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BLOCKS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The value of `f()` and the number of heap blocks requested while it ran.
fn blocks_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = BLOCKS.load(Ordering::SeqCst);
    let r = f();
    (r, BLOCKS.load(Ordering::SeqCst) - before)
}

/// The six-op chain `matmul_t → add bias → gelu → matmul_t → tanh → sum` on whatever tensors it
/// is given (constants or watched parameters), with the heap blocks each op requested.
fn mlp(x: &Tensor<f32>, w1: &Tensor<f32>, b1: &Tensor<f32>, w2: &Tensor<f32>) -> (Tensor<f32>, [usize; 6]) {
    let (h, a) = blocks_during(|| x.matmul_t(w1, Transpose::Rhs).unwrap());
    let (h, b) = blocks_during(|| h.add(b1).unwrap());
    let (h, c) = blocks_during(|| h.gelu().unwrap());
    let (h, d) = blocks_during(|| h.matmul_t(w2, Transpose::Rhs).unwrap());
    let (h, e) = blocks_during(|| h.tanh().unwrap());
    let (y, f) = blocks_during(|| h.sum(&[], false).unwrap());
    (y, [a, b, c, d, e, f])
}

/// The bound asserted for every op of the chain on constants.
///
/// An op's result costs 3 blocks: the element buffer, the `Arc` sharing it, and the shape. Index
/// metadata adds a few more, independent of the tensor sizes: matmul's broadcast batch shape and
/// output shape (5 in all), a full `sum`'s axis list, kept shape, strides and the shape of its
/// scalar (9 in all, the most of this chain); a GEMM split across rayon's threads adds 3 (8 in
/// all). 10 leaves one block of slack; a per-row or per-element allocation would exceed it on
/// these sizes. (Recording costs 4–6 blocks more per op — the boxed backward, saved detached
/// inputs, the node — which the per-op comparison with the tracked run checks.)
const MAX_BLOCKS_PER_OP: usize = 10;

#[test]
fn inference_on_constants_records_nothing_and_allocates_only_outputs() {
    let mut rng = Rng::seed(3);
    // (batch, points, in) → hidden → out: small enough to stay on one thread, then large enough
    // (32 768-element activations) to split both GEMMs and the element-wise loops across threads.
    for &(b, n, c_in, hidden, c_out) in &[(2, 8, 6, 16, 4), (4, 256, 64, 128, 64)] {
        let x = Tensor::<f32>::randn(&[b, n, c_in], 0.0, 1.0, &mut rng);
        let w1 = Tensor::<f32>::randn(&[hidden, c_in], 0.0, 0.2, &mut rng);
        let b1 = Tensor::<f32>::randn(&[hidden], 0.0, 0.2, &mut rng);
        let w2 = Tensor::<f32>::randn(&[c_out, hidden], 0.0, 0.2, &mut rng);
        // warm-up: thread-pool start-up and the GEMM's reusable packing buffers
        mlp(&x, &w1, &b1, &w2);

        let (y, constant) = mlp(&x, &w1, &b1, &w2);
        assert!(!y.is_tracked(), "a chain on constants must not be recorded");
        for (op, &blocks) in constant.iter().enumerate() {
            assert!(
                blocks <= MAX_BLOCKS_PER_OP,
                "op {op} of the constant chain requested {blocks} blocks (> {MAX_BLOCKS_PER_OP}); all: {constant:?}"
            );
        }

        let params = [&w1, &b1, &w2].map(|t| Parameter::new(t.clone()));
        let tape = Tape::new();
        let [pw1, pb1, pw2] = params.each_ref().map(|p| tape.watch(p));
        let (yt, tracked) = mlp(&x, &pw1, &pb1, &pw2);
        assert!(yt.is_tracked());
        assert_eq!(tape.len(), 3 + constant.len(), "three watched leaves and one node per op");
        assert_eq!(yt.item().unwrap(), y.item().unwrap(), "recording must not change the value");
        for (op, (c, t)) in constant.iter().zip(&tracked).enumerate() {
            assert!(
                c < t,
                "op {op}: constants {c} blocks should be fewer than tracked {t}: {constant:?} vs {tracked:?}"
            );
        }
    }
}
