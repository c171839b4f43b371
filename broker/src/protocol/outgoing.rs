//! A response on its way out: encoded bytes, and the record batches of a fetch as regions of
//! segment files, written to the socket a slice at a time instead of read into memory whole.

use std::os::unix::fs::FileExt;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::log::Region;

/// How much of a file region is read at a time on its way to the socket.
const SLICE: usize = 256 * 1024;

pub enum Part {
    Bytes(Bytes),
    File(Region),
}

/// A whole response frame (its length prefix included), in parts.
pub struct Outgoing {
    pub parts: Vec<Part>,
}

impl From<Bytes> for Outgoing {
    fn from(bytes: Bytes) -> Self {
        Self {
            parts: vec![Part::Bytes(bytes)],
        }
    }
}

impl Outgoing {
    /// Writes every part; `scratch` is the buffer file slices pass through.
    pub async fn write_to(
        &self,
        writer: &mut (impl AsyncWrite + Unpin),
        scratch: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        for part in &self.parts {
            match part {
                Part::Bytes(bytes) => writer.write_all(bytes).await?,
                Part::File(region) => {
                    let mut done = 0;
                    while done < region.len {
                        let n = (region.len - done).min(SLICE);
                        scratch.resize(n, 0);
                        // Recently written batches come from the page cache.
                        region
                            .file
                            .read_exact_at(&mut scratch[..n], region.offset + done as u64)?;
                        writer.write_all(&scratch[..n]).await?;
                        done += n;
                    }
                }
            }
        }
        Ok(())
    }
}
