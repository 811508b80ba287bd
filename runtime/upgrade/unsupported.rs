//! Elsewhere than Unix an upgrade is refused: there is no way to pass listening sockets to a new
//! process.

use super::UpgradeError;
use crate::shutdown::Shutdown;

pub(super) fn attempt(_shutdown: &Shutdown) -> Result<u32, UpgradeError> {
    Err(UpgradeError::Unsupported)
}
