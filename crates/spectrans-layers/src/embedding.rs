//! Token embeddings: a lookup table (V, D).

use spectrans_tensor::{Float, Parameter, Rng, Tensor};

use crate::error::{LayerError, Result};
use crate::init;
use crate::module::{join, Ctx, Module, Visitor};

/// A table of `num_embeddings` vectors of width `dim`, looked up by id.
pub struct Embedding<T: Float> {
    /// (V, D).
    pub weight: Parameter<T>,
}

impl<T: Float> Embedding<T> {
    /// spectrans' initialisation: Xavier-uniform U(±√(6/(V + D))).
    pub fn new(num_embeddings: usize, dim: usize, rng: &mut Rng) -> Self {
        Embedding { weight: init::xavier_uniform(&[num_embeddings, dim], dim, num_embeddings, rng) }
    }

    /// Number of rows (the vocabulary size).
    pub fn num_embeddings(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Width of each vector.
    pub fn dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Looks up `ids` (row-major, shaped `shape`); every id must be `< num_embeddings`.
    ///
    /// # Shapes
    /// ids `shape` (e.g. (B, N)) → (`shape`…, D).
    ///
    /// ```
    /// use spectrans_layers::{Ctx, Embedding};
    /// use spectrans_tensor::Rng;
    /// let emb = Embedding::<f32>::new(10, 4, &mut Rng::seed(0));
    /// assert_eq!(emb.forward(&Ctx::inference(), &[1, 2, 3, 9], &[2, 2])?.shape(), &[2, 2, 4]);
    /// assert!(emb.forward(&Ctx::inference(), &[10], &[1, 1]).is_err());
    /// # Ok::<(), spectrans_layers::LayerError>(())
    /// ```
    pub fn forward(&self, ctx: &Ctx<T>, ids: &[usize], shape: &[usize]) -> Result<Tensor<T>> {
        let v = self.num_embeddings();
        if ids.len() != shape.iter().product::<usize>() {
            return Err(LayerError::input("Embedding", format!("{} ids do not fill shape {shape:?}", ids.len())));
        }
        if let Some((pos, id)) = ids.iter().enumerate().find(|(_, &id)| id >= v) {
            return Err(LayerError::input(
                "Embedding",
                format!("token id {id} at flat position {pos} is out of range for a vocabulary of {v}"),
            ));
        }
        let rows = ctx.param(&self.weight).index_select(0, ids)?;
        let mut out_shape = shape.to_vec();
        out_shape.push(self.dim());
        Ok(rows.reshape(&out_shape)?)
    }
}

impl<T: Float> Module<T> for Embedding<T> {
    fn visit(&self, prefix: &str, v: &mut dyn Visitor<T>) {
        v.param(&join(prefix, "weight"), &self.weight);
    }
}
