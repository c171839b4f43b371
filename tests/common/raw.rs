//! A bare Kafka connection that speaks frames, below any client library.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// A bare Kafka connection that speaks frames.
pub struct Raw {
    pub stream: TcpStream,
    correlation: i32,
}

impl Raw {
    pub fn connect(bootstrap: &str) -> Self {
        let stream = TcpStream::connect(bootstrap).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Self {
            stream,
            correlation: 0,
        }
    }

    pub fn send_frame(&mut self, body: &[u8]) -> std::io::Result<()> {
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        self.stream.write_all(&frame)
    }

    /// The next frame, or `None` if the broker closed the connection.
    pub fn read_frame(&mut self) -> Option<Bytes> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).ok()?;
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut body).ok()?;
        Some(Bytes::from(body))
    }

    /// Sends a request without waiting for its response.
    pub fn send(&mut self, request: &RequestKind, version: i16) {
        let api = api_key(request);
        self.correlation += 1;
        let mut header = RequestHeader::default();
        header.request_api_key = api as i16;
        header.request_api_version = version;
        header.correlation_id = self.correlation;
        header.client_id = Some(StrBytes::from_static_str("raw-test"));
        let mut buf = BytesMut::new();
        header
            .encode(&mut buf, api.request_header_version(version))
            .expect("header");
        request.encode(&mut buf, version).expect("request");
        // A closed connection shows up when the response is read.
        let _ = self.send_frame(&buf);
    }

    pub fn request(&mut self, request: RequestKind, version: i16) -> Option<ResponseKind> {
        let api = api_key(&request);
        self.send(&request, version);
        let mut frame = self.read_frame()?;
        let response_header =
            ResponseHeader::decode(&mut frame, api.response_header_version(version))
                .expect("response header");
        assert_eq!(response_header.correlation_id, self.correlation);
        let response = ResponseKind::decode(api, &mut frame, version)
            .unwrap_or_else(|e| panic!("{api:?} v{version} response does not decode: {e}"));
        assert!(
            frame.is_empty(),
            "{api:?} v{version}: {} bytes left over",
            frame.len()
        );
        Some(response)
    }

    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0) | Err(_))
    }
}

pub fn api_key(request: &RequestKind) -> ApiKey {
    match request {
        RequestKind::Produce(_) => ApiKey::Produce,
        RequestKind::Fetch(_) => ApiKey::Fetch,
        RequestKind::ListOffsets(_) => ApiKey::ListOffsets,
        RequestKind::Metadata(_) => ApiKey::Metadata,
        RequestKind::ApiVersions(_) => ApiKey::ApiVersions,
        RequestKind::CreateTopics(_) => ApiKey::CreateTopics,
        RequestKind::DeleteTopics(_) => ApiKey::DeleteTopics,
        RequestKind::InitProducerId(_) => ApiKey::InitProducerId,
        RequestKind::DescribeConfigs(_) => ApiKey::DescribeConfigs,
        RequestKind::AlterConfigs(_) => ApiKey::AlterConfigs,
        RequestKind::CreatePartitions(_) => ApiKey::CreatePartitions,
        RequestKind::IncrementalAlterConfigs(_) => ApiKey::IncrementalAlterConfigs,
        RequestKind::DescribeCluster(_) => ApiKey::DescribeCluster,
        RequestKind::FindCoordinator(_) => ApiKey::FindCoordinator,
        RequestKind::JoinGroup(_) => ApiKey::JoinGroup,
        RequestKind::SyncGroup(_) => ApiKey::SyncGroup,
        RequestKind::Heartbeat(_) => ApiKey::Heartbeat,
        RequestKind::LeaveGroup(_) => ApiKey::LeaveGroup,
        RequestKind::OffsetCommit(_) => ApiKey::OffsetCommit,
        RequestKind::OffsetFetch(_) => ApiKey::OffsetFetch,
        RequestKind::OffsetDelete(_) => ApiKey::OffsetDelete,
        RequestKind::ListGroups(_) => ApiKey::ListGroups,
        RequestKind::DescribeGroups(_) => ApiKey::DescribeGroups,
        RequestKind::DeleteGroups(_) => ApiKey::DeleteGroups,
        other => panic!("no key mapped for {other:?}"),
    }
}

/// How long the broker takes to answer an ApiVersions on a new connection: what a client that
/// just arrived waits. Panics if there is no answer within ten seconds.
pub fn api_versions_round_trip(bootstrap: &str) -> Duration {
    let started = Instant::now();
    let mut raw = Raw::connect(bootstrap);
    let answered = raw.request(RequestKind::ApiVersions(ApiVersionsRequest::default()), 3);
    assert!(answered.is_some(), "no ApiVersions answer");
    started.elapsed()
}
