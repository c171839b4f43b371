//! Length-prefixed Kafka frames, read without trusting the length: beyond [`EAGER_FRAME`], memory
//! is reserved as bytes arrive, so a client that claims a huge frame and sends nothing costs little.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

const READ_CHUNK: usize = 64 * 1024;
/// Frames up to this size get their whole buffer at once, so the body lands where it is decoded
/// with no regrowth copies. Clients cap a request near `message.max.bytes` (1 MB by default).
const EAGER_FRAME: usize = 1024 * 1024 + 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame size {size} is outside 1..={max} (socket.request.max.bytes)")]
    BadSize { size: i32, max: usize },
    #[error("connection closed mid-frame")]
    Truncated,
    #[error("no request for {0:?} (connections.max.idle.ms)")]
    Idle(std::time::Duration),
    #[error("a request took longer than {0:?} to arrive (socket.request.read.timeout.ms)")]
    Slow(std::time::Duration),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads the next frame, waiting at most `idle` for it to begin and `whole` for the rest once it
/// has, so a silent or trickling client cannot hold its connection for ever.
pub async fn read_frame_within<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    max: usize,
    idle: std::time::Duration,
    whole: std::time::Duration,
) -> Result<Option<Bytes>, FrameError> {
    if buf.is_empty() {
        buf.reserve(READ_CHUNK);
        match tokio::time::timeout(idle, reader.read_buf(buf)).await {
            Err(_) => return Err(FrameError::Idle(idle)),
            Ok(read) => {
                if read? == 0 {
                    return Ok(None);
                }
            }
        }
    }
    tokio::time::timeout(whole, read_frame(reader, buf, max))
        .await
        .map_err(|_| FrameError::Slow(whole))?
}

/// Reads the next frame. `Ok(None)` is a clean close between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<Bytes>, FrameError> {
    loop {
        if buf.len() >= 4 {
            let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            if size < 1 || size as usize > max {
                return Err(FrameError::BadSize { size, max });
            }
            let size = size as usize;
            if buf.len() >= 4 + size {
                buf.advance(4);
                return Ok(Some(buf.split_to(size).freeze()));
            }
            let missing = 4 + size - buf.len();
            // Larger frames grow with what has arrived: at most twice what the client sent.
            let step = if size <= EAGER_FRAME {
                missing
            } else {
                missing.min(buf.len().max(READ_CHUNK))
            };
            buf.reserve(step);
        } else {
            buf.reserve(READ_CHUNK);
        }
        if reader.read_buf(buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_split_across_reads_are_reassembled() {
        let mut wire = Vec::new();
        for body in [&b"hello"[..], b"kafka"] {
            wire.extend_from_slice(&(body.len() as i32).to_be_bytes());
            wire.extend_from_slice(body);
        }
        let mut reader = tokio_test_reader(wire);
        let mut buf = BytesMut::new();
        assert_eq!(
            read_frame(&mut reader, &mut buf, 100)
                .await
                .expect("ok")
                .as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(
            read_frame(&mut reader, &mut buf, 100)
                .await
                .expect("ok")
                .as_deref(),
            Some(&b"kafka"[..])
        );
        assert!(read_frame(&mut reader, &mut buf, 100)
            .await
            .expect("ok")
            .is_none());
    }

    #[tokio::test]
    async fn absurd_and_truncated_frames_are_errors() {
        let mut buf = BytesMut::new();
        let mut reader = tokio_test_reader(i32::MAX.to_be_bytes().to_vec());
        assert!(matches!(
            read_frame(&mut reader, &mut buf, 1 << 20).await,
            Err(FrameError::BadSize { .. })
        ));
        let mut buf = BytesMut::new();
        let mut reader = tokio_test_reader((-5i32).to_be_bytes().to_vec());
        assert!(matches!(
            read_frame(&mut reader, &mut buf, 1 << 20).await,
            Err(FrameError::BadSize { .. })
        ));
        let mut buf = BytesMut::new();
        let mut wire = 10i32.to_be_bytes().to_vec();
        wire.extend_from_slice(b"abc");
        let mut reader = tokio_test_reader(wire);
        assert!(matches!(
            read_frame(&mut reader, &mut buf, 100).await,
            Err(FrameError::Truncated)
        ));
    }

    fn tokio_test_reader(bytes: Vec<u8>) -> std::io::Cursor<Vec<u8>> {
        std::io::Cursor::new(bytes)
    }
}
