//! Decodes a request frame, routes it by ApiKey to its handler, and encodes the reply.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::handlers::{self, api_versions};
use crate::server::Broker;

pub type BoxReply = Pin<Box<dyn Future<Output = Option<Bytes>> + Send + 'static>>;
/// A reply that may send parts of files as they are (fetch).
pub type BoxStreamed =
    Pin<Box<dyn Future<Output = Option<super::outgoing::Outgoing>> + Send + 'static>>;

/// A handler's reply: encoded now, none at all (acks=0), or later (after an fsync or a long
/// poll). A later reply of `None` could not be encoded, and closes the connection.
pub enum Reply {
    Now(Bytes),
    Nothing,
    Later(BoxReply),
    Streamed(BoxStreamed),
}

/// A request that cannot be answered; the connection is closed, as Kafka does.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("frame of {0} bytes is too short for a request header")]
    Short(usize),
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    #[error("{api:?} v{version} is not supported")]
    Unsupported { api: ApiKey, version: i16 },
    #[error("malformed {api:?} v{version} request: {reason}")]
    Malformed {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("{api:?} v{version} response could not be encoded")]
    Encode { api: ApiKey, version: i16 },
}

/// What a handler needs to know about the request it answers.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub api: ApiKey,
    pub version: i16,
    pub correlation_id: i32,
    /// Which of the broker's endpoints the request came through.
    pub endpoint: usize,
}

impl Ctx {
    fn malformed(&self, e: impl std::fmt::Display) -> DispatchError {
        DispatchError::Malformed {
            api: self.api,
            version: self.version,
            reason: e.to_string(),
        }
    }

    /// Encodes `response` behind its length prefix and response header.
    pub fn encode<R: Encodable>(&self, response: &R) -> Result<Bytes, DispatchError> {
        let mut header = ResponseHeader::default();
        header.correlation_id = self.correlation_id;
        let header_version = self.api.response_header_version(self.version);
        let mut out = BytesMut::with_capacity(256);
        out.put_i32(0);
        let encoded = header
            .encode(&mut out, header_version)
            .and_then(|()| response.encode(&mut out, self.version));
        if let Err(e) = encoded {
            tracing::error!(api = ?self.api, version = self.version, error = %e, "could not encode response");
            return Err(DispatchError::Encode {
                api: self.api,
                version: self.version,
            });
        }
        let size = (out.len() - 4) as i32;
        out[..4].copy_from_slice(&size.to_be_bytes());
        Ok(out.freeze())
    }
}

/// Like `answer_now`, with the handler run on a blocking thread: for requests whose work grows
/// with what they ask for.
macro_rules! answer_blocking {
    ($broker:expr, $ctx:expr, $body:expr, $req:ty, $handler:path) => {{
        let req = <$req>::decode(&mut $body, $ctx.version).map_err(|e| $ctx.malformed(e))?;
        let broker = Arc::clone($broker);
        let ctx = $ctx;
        Reply::Later(Box::pin(async move {
            let version = ctx.version;
            let response =
                tokio::task::spawn_blocking(move || $handler(&broker, req, version)).await;
            match response {
                Ok(response) => ctx.encode(&response).ok(),
                Err(e) => {
                    tracing::error!(api = ?ctx.api, error = %e, "request handler failed");
                    None
                }
            }
        }))
    }};
}

macro_rules! answer_now {
    ($broker:expr, $ctx:expr, $body:expr, $req:ty, $handler:path) => {{
        let req = <$req>::decode(&mut $body, $ctx.version).map_err(|e| $ctx.malformed(e))?;
        Reply::Now($ctx.encode(&$handler($broker, req, $ctx.version))?)
    }};
}

/// Like `answer_now`, for handlers that tell the client where to connect: they are given the
/// context, whose endpoint decides which advertised address the client sees.
macro_rules! answer_with_address {
    ($broker:expr, $ctx:expr, $body:expr, $req:ty, $handler:path) => {{
        let req = <$req>::decode(&mut $body, $ctx.version).map_err(|e| $ctx.malformed(e))?;
        Reply::Now($ctx.encode(&$handler($broker, req, $ctx))?)
    }};
}

/// Handles one request frame from the client at `peer`, connected through `endpoint`.
pub fn dispatch(
    broker: &Arc<Broker>,
    frame: Bytes,
    peer: &str,
    endpoint: usize,
) -> Result<Reply, DispatchError> {
    if frame.len() < 8 {
        return Err(DispatchError::Short(frame.len()));
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api = ApiKey::try_from(key).map_err(|_| DispatchError::UnknownApi(key))?;
    let ctx = Ctx {
        api,
        version,
        correlation_id,
        endpoint,
    };
    if api == ApiKey::ApiVersions && !api_versions::supports(api, version) {
        // KIP-511: answer a newer ApiVersions in the v0 format so the client can retry lower.
        let v0 = Ctx { version: 0, ..ctx };
        return Ok(Reply::Now(v0.encode(&api_versions::unsupported_version())?));
    }
    if !api_versions::supports(api, version) {
        return Err(DispatchError::Unsupported { api, version });
    }
    let mut body = frame;
    let header = RequestHeader::decode(&mut body, api.request_header_version(version))
        .map_err(|e| ctx.malformed(e))?;
    let reply = match api {
        ApiKey::ApiVersions => answer_now!(
            broker,
            ctx,
            body,
            ApiVersionsRequest,
            handlers::api_versions::handle
        ),
        ApiKey::Metadata => answer_with_address!(
            broker,
            ctx,
            body,
            MetadataRequest,
            handlers::metadata::handle
        ),
        ApiKey::ListOffsets => answer_now!(
            broker,
            ctx,
            body,
            ListOffsetsRequest,
            handlers::list_offsets::handle
        ),
        // Creating partitions touches the disk for each one: off the threads that answer.
        ApiKey::CreateTopics => answer_blocking!(
            broker,
            ctx,
            body,
            CreateTopicsRequest,
            handlers::create_topics::handle
        ),
        ApiKey::DeleteTopics => answer_now!(
            broker,
            ctx,
            body,
            DeleteTopicsRequest,
            handlers::delete_topics::handle
        ),
        ApiKey::CreatePartitions => {
            answer_blocking!(
                broker,
                ctx,
                body,
                CreatePartitionsRequest,
                handlers::create_partitions::handle
            )
        }
        ApiKey::DescribeConfigs => answer_now!(
            broker,
            ctx,
            body,
            DescribeConfigsRequest,
            handlers::configs::describe
        ),
        ApiKey::IncrementalAlterConfigs => answer_now!(
            broker,
            ctx,
            body,
            IncrementalAlterConfigsRequest,
            handlers::configs::incremental_alter
        ),
        ApiKey::AlterConfigs => answer_now!(
            broker,
            ctx,
            body,
            AlterConfigsRequest,
            handlers::configs::alter
        ),
        ApiKey::DescribeCluster => {
            answer_with_address!(
                broker,
                ctx,
                body,
                DescribeClusterRequest,
                handlers::describe_cluster::handle
            )
        }
        ApiKey::InitProducerId => {
            answer_now!(
                broker,
                ctx,
                body,
                InitProducerIdRequest,
                handlers::init_producer_id::handle
            )
        }
        ApiKey::Produce => {
            let req = ProduceRequest::decode(&mut body, version).map_err(|e| ctx.malformed(e))?;
            handlers::produce::handle(broker, req, ctx)?
        }
        ApiKey::FindCoordinator => answer_with_address!(
            broker,
            ctx,
            body,
            FindCoordinatorRequest,
            handlers::groups::find_coordinator
        ),
        ApiKey::JoinGroup => {
            let req = JoinGroupRequest::decode(&mut body, version).map_err(|e| ctx.malformed(e))?;
            let client_id = header.client_id.map(|c| c.to_string()).unwrap_or_default();
            let host = format!("/{}", peer.rsplit_once(':').map_or(peer, |(h, _)| h));
            handlers::groups::join(broker, req, ctx, client_id, host)
        }
        ApiKey::SyncGroup => {
            let req = SyncGroupRequest::decode(&mut body, version).map_err(|e| ctx.malformed(e))?;
            handlers::groups::sync(broker, req, ctx)
        }
        ApiKey::Heartbeat => answer_now!(
            broker,
            ctx,
            body,
            HeartbeatRequest,
            handlers::groups::heartbeat
        ),
        ApiKey::LeaveGroup => answer_now!(
            broker,
            ctx,
            body,
            LeaveGroupRequest,
            handlers::groups::leave
        ),
        ApiKey::OffsetCommit => {
            let req =
                OffsetCommitRequest::decode(&mut body, version).map_err(|e| ctx.malformed(e))?;
            handlers::groups::offset_commit(broker, req, ctx)?
        }
        ApiKey::OffsetFetch => answer_now!(
            broker,
            ctx,
            body,
            OffsetFetchRequest,
            handlers::groups::offset_fetch
        ),
        ApiKey::OffsetDelete => {
            let req =
                OffsetDeleteRequest::decode(&mut body, version).map_err(|e| ctx.malformed(e))?;
            handlers::groups::offset_delete(broker, req, ctx)
        }
        ApiKey::ListGroups => answer_now!(
            broker,
            ctx,
            body,
            ListGroupsRequest,
            handlers::groups::list_groups
        ),
        ApiKey::DescribeGroups => answer_now!(
            broker,
            ctx,
            body,
            DescribeGroupsRequest,
            handlers::groups::describe_groups
        ),
        ApiKey::DeleteGroups => {
            let req =
                DeleteGroupsRequest::decode(&mut body, version).map_err(|e| ctx.malformed(e))?;
            handlers::groups::delete_groups(broker, req, ctx)
        }
        ApiKey::Fetch => {
            let req = FetchRequest::decode(&mut body, version).map_err(|e| ctx.malformed(e))?;
            let broker = Arc::clone(broker);
            Reply::Streamed(Box::pin(async move {
                let response = handlers::fetch::handle(&broker, req, version).await;
                Some(handlers::fetch::encode(&ctx, &response))
            }))
        }
        _ => return Err(DispatchError::Unsupported { api, version }),
    };
    Ok(reply)
}
