//! [`DerivedCache`]: a value computed from a tensor's contents, kept while those contents are
//! unchanged (re-laid-out weights reused by inference calls).

use std::sync::{Arc, Mutex, Weak};

use crate::float::Float;
use crate::tensor::Tensor;

/// Holds one value derived from a tensor's buffer — say, weights re-laid-out for a kernel — and
/// hands it out again for as long as the tensor passed in still shares that very buffer.
///
/// Validity follows from how buffers change: a [`Tensor`]'s buffer is shared by reference and
/// only ever written through copy-on-write ([`crate::Parameter::update`] writes in place only when
/// no other tensor holds the buffer, and then moves it to a new allocation because this cache
/// holds a weak reference to it; [`crate::Parameter::set_value`] installs a new buffer). So the
/// same live allocation always holds the same numbers, and a changed parameter is recomputed.
/// The cache keeps only a weak reference to the source, never extending its life.
///
/// ```
/// use spectrans_tensor::{DerivedCache, Parameter, Tensor};
/// let w = Parameter::new(Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2])?);
/// let cache = DerivedCache::new();
/// let sum = |d: &[f32]| d.iter().sum::<f32>();
/// assert_eq!(*cache.get_or_compute(&w.value(), sum), 3.0);
/// w.update(|v, _| v[0] = 5.0);
/// assert_eq!(*cache.get_or_compute(&w.value(), sum), 7.0); // recomputed: the buffer changed
/// # Ok::<(), spectrans_tensor::TensorError>(())
/// ```
pub struct DerivedCache<T: Float, V> {
    slot: Mutex<Option<Entry<T, V>>>,
}

/// The source buffer (weakly) and the value derived from it.
type Entry<T, V> = (Weak<Vec<T>>, Arc<V>);

impl<T: Float, V> Default for DerivedCache<T, V> {
    fn default() -> Self {
        DerivedCache { slot: Mutex::new(None) }
    }
}

impl<T: Float, V> DerivedCache<T, V> {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value derived from `source`'s buffer: the cached one if it was computed from this very
    /// buffer, else `derive(source data)`, which then replaces it.
    pub fn get_or_compute(&self, source: &Tensor<T>, derive: impl FnOnce(&[T]) -> V) -> Arc<V> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((weak, value)) = slot.as_ref() {
            if weak.upgrade().is_some_and(|buf| Arc::ptr_eq(&buf, &source.data)) {
                return value.clone();
            }
        }
        // drop the stale value before computing the new one, so the two never coexist
        *slot = None;
        let value = Arc::new(derive(source.data()));
        *slot = Some((Arc::downgrade(&source.data), value.clone()));
        value
    }

    /// Forgets the cached value (and frees it unless a caller still holds it).
    pub fn clear(&self) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether a value is held (it may be stale).
    pub fn is_filled(&self) -> bool {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Parameter;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(calls: &AtomicUsize) -> impl Fn(&[f64]) -> Vec<f64> + '_ {
        move |d: &[f64]| {
            calls.fetch_add(1, Ordering::Relaxed);
            d.iter().map(|v| 2.0 * v).collect()
        }
    }

    #[test]
    fn reuses_while_the_buffer_is_unchanged_and_recomputes_after_each_kind_of_change() {
        let calls = AtomicUsize::new(0);
        let p = Parameter::new(Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap());
        let cache = DerivedCache::new();
        assert_eq!(*cache.get_or_compute(&p.value(), counting(&calls)), vec![2.0, 4.0, 6.0]);
        assert_eq!(*cache.get_or_compute(&p.value(), counting(&calls)), vec![2.0, 4.0, 6.0]);
        assert_eq!(calls.load(Ordering::Relaxed), 1);

        // in-place update with no other holder of the buffer
        p.update(|v, _| v[1] = 10.0);
        assert_eq!(*cache.get_or_compute(&p.value(), counting(&calls)), vec![2.0, 20.0, 6.0]);
        // in-place update while an activation still holds the old buffer (copy-on-write)
        let held = p.value();
        p.update(|v, _| v[0] = -1.0);
        assert_eq!(*cache.get_or_compute(&p.value(), counting(&calls)), vec![-2.0, 20.0, 6.0]);
        assert_eq!(held.to_vec(), vec![1.0, 10.0, 3.0]);
        // a new value
        p.set_value(Tensor::from_vec(vec![0.5, 0.5, 0.5], &[3]).unwrap()).unwrap();
        assert_eq!(*cache.get_or_compute(&p.value(), counting(&calls)), vec![1.0, 1.0, 1.0]);
        // another tensor with equal contents but its own buffer
        let other = Tensor::from_vec(vec![0.5, 0.5, 0.5], &[3]).unwrap();
        cache.get_or_compute(&other, counting(&calls));
        assert_eq!(calls.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn holds_no_strong_reference_to_the_source() {
        let cache = DerivedCache::new();
        let t = Tensor::<f32>::from_vec(vec![1.0; 4], &[4]).unwrap();
        cache.get_or_compute(&t, |d| d.len());
        assert_eq!(Arc::strong_count(&t.data), 1);
        assert!(cache.is_filled());
        cache.clear();
        assert!(!cache.is_filled());
    }
}
