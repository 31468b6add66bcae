//! The configuration of an [`FNOOperator`](crate::FNOOperator): the canonical FNO of Li et al.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

fn one() -> usize {
    1
}
fn w64() -> usize {
    64
}
fn m16() -> usize {
    16
}
fn l4() -> usize {
    4
}
fn p128() -> usize {
    128
}

/// The grid coordinates an [`FNOOperator`] appends to its input (`grid` in JSON: `"linear"`, `"vertices"`,
/// `"periodic"` or `"none"`; other names are refused, listing these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GridEncoding {
    /// x = j/N per axis, as Li et al.
    #[default]
    Linear,
    /// (sin 2πx, cos 2πx) per axis: band-limited, exactly resolution-consistent.
    Periodic,
    /// x = j/(N−1) per axis: the vertices of [0, 1] (`np.linspace(0, 1, N)`, as the FNO paper's
    /// Darcy script), the same physical point at every resolution of a vertex grid.
    Vertices,
    /// No coordinates.
    None,
}

impl GridEncoding {
    /// Features appended per axis.
    pub fn channels_per_axis(self) -> usize {
        match self {
            GridEncoding::Linear | GridEncoding::Vertices => 1,
            GridEncoding::Periodic => 2,
            GridEncoding::None => 0,
        }
    }
}

/// Configuration of an [`FNOOperator`] (`"model_type": "fno_operator"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FnoOperatorConfig {
    /// Input channels per grid point (e.g. 1 for u0(x)).
    #[serde(default = "one")]
    pub in_channels: usize,
    /// Output channels per grid point.
    #[serde(default = "one")]
    pub out_channels: usize,
    /// Hidden width of the Fourier layers.
    #[serde(default = "w64")]
    pub width: usize,
    /// Fourier modes kept per layer.
    #[serde(default = "m16")]
    pub modes: usize,
    /// Number of Fourier layers.
    #[serde(default = "l4")]
    pub num_layers: usize,
    /// Hidden width of the projection.
    #[serde(default = "p128")]
    pub projection_dim: usize,
    /// Grid coordinates appended to the input: "linear" (x = j/N, as Li et al.), "vertices" (x = j/(N−1)), "periodic"
    /// (sin 2πx, cos 2πx: band-limited, exactly resolution-consistent) or "none".
    #[serde(default)]
    pub grid: GridEncoding,
    /// 1 for functions on a line (B, S, C), 2 for functions on a grid (B, H, W, C).
    #[serde(default = "one")]
    pub spatial_dims: usize,
}

impl Default for FnoOperatorConfig {
    fn default() -> Self {
        FnoOperatorConfig {
            in_channels: 1,
            out_channels: 1,
            width: 64,
            modes: 16,
            num_layers: 4,
            projection_dim: 128,
            grid: GridEncoding::Linear,
            spatial_dims: 1,
        }
    }
}

impl FnoOperatorConfig {
    /// Number of grid features appended to each point.
    pub fn grid_channels(&self) -> Result<usize> {
        Ok(self.spatial_dims.clamp(1, 2) * self.grid.channels_per_axis())
    }

    /// Checks every field, naming the first invalid one.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("width", self.width),
            ("modes", self.modes),
            ("num_layers", self.num_layers),
            ("projection_dim", self.projection_dim),
        ] {
            if v == 0 {
                return Err(ModelError::config(name, "must be at least 1"));
            }
        }
        if !(1..=2).contains(&self.spatial_dims) {
            return Err(ModelError::config("spatial_dims", format!("must be 1 or 2, got {}", self.spatial_dims)));
        }
        self.grid_channels()?;
        Ok(())
    }
}
