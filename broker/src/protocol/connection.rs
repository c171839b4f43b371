//! One client connection. Requests are handled in arrival order (so appends keep their order)
//! but their replies may complete later (acks=all waits, fetch long-polls); responses are still
//! written in request order, as the protocol requires.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::connections::Admitted;
use super::dispatch::{self, Reply};
use super::frame::{self, FrameError};
use super::outgoing::Outgoing;
use crate::server::Broker;

/// Requests a connection may have in flight before the broker stops reading from it.
const MAX_IN_FLIGHT: usize = 64;

enum Pending {
    Ready(Bytes),
    Nothing,
    Later(JoinHandle<Option<Outgoing>>),
}

pub async fn serve_connection(
    stream: TcpStream,
    endpoint: usize,
    broker: Arc<Broker>,
    shutdown: CancellationToken,
    admitted: Admitted,
) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Pending>(MAX_IN_FLIGHT);
    let writer_task = tokio::spawn(write_responses(
        BufWriter::with_capacity(256 * 1024, writer),
        rx,
    ));
    let max = broker.config.socket_request_max_bytes;
    let idle = Duration::from_millis(broker.config.connections_max_idle_ms);
    let whole = Duration::from_millis(broker.config.request_read_timeout_ms);
    let mut buf = BytesMut::new();
    loop {
        let frame = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = admitted.close.cancelled() => {
                tracing::debug!(%peer, "closing an idle connection to make room for a new one");
                break;
            }
            frame = frame::read_frame_within(&mut reader, &mut buf, max, idle, whole) => frame,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(FrameError::Io(e)) => {
                tracing::debug!(%peer, error = %e, "connection read failed");
                break;
            }
            Err(e @ (FrameError::Idle(_) | FrameError::Slow(_))) => {
                tracing::debug!(%peer, error = %e, "closing connection");
                break;
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection");
                break;
            }
        };
        admitted.activity.touch();
        let pending = match dispatch::dispatch(&broker, frame, &peer, endpoint) {
            Ok(Reply::Now(bytes)) => Pending::Ready(bytes),
            Ok(Reply::Nothing) => Pending::Nothing,
            Ok(Reply::Later(future)) => {
                Pending::Later(tokio::spawn(
                    async move { future.await.map(Outgoing::from) },
                ))
            }
            Ok(Reply::Streamed(future)) => Pending::Later(tokio::spawn(future)),
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection after a bad request");
                break;
            }
        };
        if tx.send(pending).await.is_err() {
            break; // the writer hit an error and is gone
        }
    }
    drop(tx);
    let _ = writer_task.await;
}

async fn write_responses(
    mut writer: BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    mut rx: mpsc::Receiver<Pending>,
) {
    let mut scratch = Vec::new();
    while let Some(pending) = rx.recv().await {
        let outgoing = match pending {
            Pending::Ready(bytes) => Some(Outgoing::from(bytes)),
            Pending::Nothing => None,
            Pending::Later(handle) => match handle.await {
                Ok(Some(outgoing)) => Some(outgoing),
                Ok(None) => return, // could not be encoded: closing tells the client to retry
                Err(e) => {
                    tracing::error!(error = %e, "request handler failed; closing connection");
                    return;
                }
            },
        };
        if let Some(outgoing) = outgoing {
            if outgoing.write_to(&mut writer, &mut scratch).await.is_err() {
                return;
            }
        }
        if rx.is_empty() && writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.flush().await;
    let _ = writer.shutdown().await;
}
