//! The broker on the wire, below any client library: every advertised version answers, version
//! negotiation follows KIP-511, bad batches get Kafka's error codes, and malformed frames close
//! only the connection that sent them.

mod common;

use std::io::Write;

use bytes::{Bytes, BytesMut};
use common::raw::Raw;
use common::TestBroker;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// A request of each advertised API, with content, so that every per-version field is used.
/// They run against the topic "versions" (one partition, created first).
fn sample_request(api: ApiKey, version: i16, topic_id: uuid::Uuid) -> RequestKind {
    match api {
        ApiKey::Produce => {
            let mut partition = produce_request::PartitionProduceData::default();
            partition.records = Some(record_batch(b"version test"));
            let mut data = produce_request::TopicProduceData::default();
            data.name = name("versions");
            data.partition_data = vec![partition];
            let mut r = ProduceRequest::default();
            r.acks = -1;
            r.timeout_ms = 5000;
            r.topic_data = vec![data];
            RequestKind::Produce(r)
        }
        ApiKey::Fetch => {
            let mut partition = fetch_request::FetchPartition::default();
            partition.partition_max_bytes = 1 << 20;
            let mut topic = fetch_request::FetchTopic::default();
            if version >= 13 {
                topic.topic_id = topic_id;
            } else {
                topic.topic = name("versions");
            }
            topic.partitions = vec![partition];
            let mut r = FetchRequest::default();
            r.max_bytes = 1 << 20;
            r.topics = vec![topic];
            RequestKind::Fetch(r)
        }
        ApiKey::ListOffsets => {
            let mut partition = list_offsets_request::ListOffsetsPartition::default();
            partition.timestamp = 1;
            let mut topic = list_offsets_request::ListOffsetsTopic::default();
            topic.name = name("versions");
            topic.partitions = vec![partition];
            let mut r = ListOffsetsRequest::default();
            r.topics = vec![topic];
            RequestKind::ListOffsets(r)
        }
        ApiKey::Metadata => {
            let mut topic = metadata_request::MetadataRequestTopic::default();
            topic.name = Some(name("versions"));
            let mut r = MetadataRequest::default();
            r.topics = Some(vec![topic]);
            RequestKind::Metadata(r)
        }
        ApiKey::ApiVersions => {
            let mut r = ApiVersionsRequest::default();
            r.client_software_name = text("raw-test");
            r.client_software_version = text("1");
            RequestKind::ApiVersions(r)
        }
        ApiKey::CreateTopics => {
            let mut topic = create_topics_request::CreatableTopic::default();
            topic.name = name(&format!("created-v{version}"));
            topic.num_partitions = 1;
            topic.replication_factor = 1;
            let mut r = CreateTopicsRequest::default();
            r.topics = vec![topic];
            r.timeout_ms = 5000;
            RequestKind::CreateTopics(r)
        }
        ApiKey::DeleteTopics => {
            let doomed = name(&format!("created-v{}", version + 1));
            let mut r = DeleteTopicsRequest::default();
            if version >= 6 {
                let mut state = delete_topics_request::DeleteTopicState::default();
                state.name = Some(doomed);
                r.topics = vec![state];
            } else {
                r.topic_names = vec![doomed];
            }
            RequestKind::DeleteTopics(r)
        }
        ApiKey::InitProducerId => {
            let mut r = InitProducerIdRequest::default();
            r.transactional_id = None;
            r.transaction_timeout_ms = 60_000;
            RequestKind::InitProducerId(r)
        }
        ApiKey::DescribeConfigs => {
            let mut resource = describe_configs_request::DescribeConfigsResource::default();
            resource.resource_type = 2;
            resource.resource_name = text("versions");
            let mut r = DescribeConfigsRequest::default();
            r.resources = vec![resource];
            r.include_synonyms = version >= 1;
            r.include_documentation = version >= 3;
            RequestKind::DescribeConfigs(r)
        }
        ApiKey::AlterConfigs => {
            let mut config = alter_configs_request::AlterableConfig::default();
            config.name = text("retention.ms");
            config.value = Some(text("3600000"));
            let mut resource = alter_configs_request::AlterConfigsResource::default();
            resource.resource_type = 2;
            resource.resource_name = text("versions");
            resource.configs = vec![config];
            let mut r = AlterConfigsRequest::default();
            r.resources = vec![resource];
            RequestKind::AlterConfigs(r)
        }
        ApiKey::CreatePartitions => {
            let mut topic = create_partitions_request::CreatePartitionsTopic::default();
            topic.name = name("versions");
            topic.count = 2 + i32::from(version);
            let mut r = CreatePartitionsRequest::default();
            r.topics = vec![topic];
            r.timeout_ms = 5000;
            RequestKind::CreatePartitions(r)
        }
        ApiKey::IncrementalAlterConfigs => {
            let mut config = incremental_alter_configs_request::AlterableConfig::default();
            config.name = text("cleanup.policy");
            config.config_operation = 2;
            config.value = Some(text("compact"));
            let mut resource = incremental_alter_configs_request::AlterConfigsResource::default();
            resource.resource_type = 2;
            resource.resource_name = text("versions");
            resource.configs = vec![config];
            let mut r = IncrementalAlterConfigsRequest::default();
            r.resources = vec![resource];
            RequestKind::IncrementalAlterConfigs(r)
        }
        ApiKey::DescribeCluster => RequestKind::DescribeCluster(DescribeClusterRequest::default()),
        ApiKey::FindCoordinator => {
            let mut r = FindCoordinatorRequest::default();
            if version >= 4 {
                r.coordinator_keys = vec![text("g")];
            } else {
                r.key = text("g");
            }
            RequestKind::FindCoordinator(r)
        }
        ApiKey::JoinGroup => {
            RequestKind::JoinGroup(join_request(&format!("join-v{version}"), "", version))
        }
        ApiKey::SyncGroup => {
            let mut r = SyncGroupRequest::default();
            r.group_id = GroupId(text("g"));
            r.member_id = text("nobody");
            RequestKind::SyncGroup(r)
        }
        ApiKey::Heartbeat => {
            let mut r = HeartbeatRequest::default();
            r.group_id = GroupId(text("g"));
            r.member_id = text("nobody");
            RequestKind::Heartbeat(r)
        }
        ApiKey::LeaveGroup => RequestKind::LeaveGroup(leave_request("g", "nobody", version)),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(commit_request("simple", -1, "", 5)),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(fetch_offsets_request("simple", version)),
        ApiKey::OffsetDelete => {
            let mut partition = offset_delete_request::OffsetDeleteRequestPartition::default();
            partition.partition_index = 0;
            let mut topic = offset_delete_request::OffsetDeleteRequestTopic::default();
            topic.name = name("versions");
            topic.partitions = vec![partition];
            let mut r = OffsetDeleteRequest::default();
            r.group_id = GroupId(text("simple"));
            r.topics = vec![topic];
            RequestKind::OffsetDelete(r)
        }
        ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
        ApiKey::DescribeGroups => {
            let mut r = DescribeGroupsRequest::default();
            r.groups = vec![GroupId(text("simple")), GroupId(text("unknown"))];
            RequestKind::DescribeGroups(r)
        }
        ApiKey::DeleteGroups => {
            let mut r = DeleteGroupsRequest::default();
            r.groups_names = vec![GroupId(text("simple"))];
            RequestKind::DeleteGroups(r)
        }
        other => panic!("advertised {other:?} has no sample request"),
    }
}

fn leave_request(group: &str, member_id: &str, version: i16) -> LeaveGroupRequest {
    let mut r = LeaveGroupRequest::default();
    r.group_id = GroupId(text(group));
    if version >= 3 {
        let mut member = leave_group_request::MemberIdentity::default();
        member.member_id = text(member_id);
        r.members = vec![member];
    } else {
        r.member_id = text(member_id);
    }
    r
}

fn join_request(group: &str, member_id: &str, version: i16) -> JoinGroupRequest {
    let mut protocol = join_group_request::JoinGroupRequestProtocol::default();
    protocol.name = text("range");
    protocol.metadata = Bytes::from_static(b"\0\0\0\0\0\0\0\0\0\0");
    let mut r = JoinGroupRequest::default();
    r.group_id = GroupId(text(group));
    r.session_timeout_ms = 10_000;
    r.rebalance_timeout_ms = if version >= 1 { 10_000 } else { -1 };
    r.member_id = text(member_id);
    r.group_instance_id = None;
    r.protocol_type = text("consumer");
    r.protocols = vec![protocol];
    r
}

fn commit_request(
    group: &str,
    generation: i32,
    member_id: &str,
    offset: i64,
) -> OffsetCommitRequest {
    let mut partition = offset_commit_request::OffsetCommitRequestPartition::default();
    partition.committed_offset = offset;
    partition.committed_metadata = Some(text("meta"));
    let mut topic = offset_commit_request::OffsetCommitRequestTopic::default();
    topic.name = name("versions");
    topic.partitions = vec![partition];
    let mut r = OffsetCommitRequest::default();
    r.group_id = GroupId(text(group));
    r.generation_id_or_member_epoch = generation;
    r.member_id = text(member_id);
    r.group_instance_id = None;
    r.topics = vec![topic];
    r
}

fn fetch_offsets_request(group: &str, version: i16) -> OffsetFetchRequest {
    let mut r = OffsetFetchRequest::default();
    if version >= 8 {
        let mut topics = offset_fetch_request::OffsetFetchRequestTopics::default();
        topics.name = name("versions");
        topics.partition_indexes = vec![0];
        let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
        g.group_id = GroupId(text(group));
        g.member_id = None;
        g.topics = Some(vec![topics]);
        r.groups = vec![g];
    } else {
        let mut topic = offset_fetch_request::OffsetFetchRequestTopic::default();
        topic.name = name("versions");
        topic.partition_indexes = vec![0];
        r.group_id = GroupId(text(group));
        r.topics = Some(vec![topic]);
    }
    r
}

/// Errors a sample request may rightly get: a new member's first JoinGroup (v4+) asks for its
/// id, unknown members are unknown, and a group deleted by the previous version is gone.
fn expected_errors(api: ApiKey) -> &'static [i16] {
    match api {
        ApiKey::JoinGroup => &[79],
        ApiKey::SyncGroup | ApiKey::Heartbeat | ApiKey::LeaveGroup => &[25],
        ApiKey::DeleteGroups => &[69],
        _ => &[],
    }
}

/// The error codes a response carries, at any level.
fn error_codes(response: &ResponseKind) -> Vec<i16> {
    match response {
        ResponseKind::Produce(r) => r
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
            .collect(),
        ResponseKind::Fetch(r) => {
            let mut codes = vec![r.error_code];
            for p in r.responses.iter().flat_map(|t| &t.partitions) {
                codes.push(p.error_code);
                assert!(
                    p.records.as_ref().is_some_and(|r| !r.is_empty()),
                    "fetch returned no records"
                );
            }
            codes
        }
        ResponseKind::ListOffsets(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        ResponseKind::Metadata(r) => r.topics.iter().map(|t| t.error_code).collect(),
        ResponseKind::ApiVersions(r) => vec![r.error_code],
        ResponseKind::CreateTopics(r) => r.topics.iter().map(|t| t.error_code).collect(),
        ResponseKind::DeleteTopics(r) => r.responses.iter().map(|t| t.error_code).collect(),
        ResponseKind::InitProducerId(r) => vec![r.error_code],
        ResponseKind::DescribeConfigs(r) => r.results.iter().map(|t| t.error_code).collect(),
        ResponseKind::AlterConfigs(r) => r.responses.iter().map(|t| t.error_code).collect(),
        ResponseKind::CreatePartitions(r) => r.results.iter().map(|t| t.error_code).collect(),
        ResponseKind::IncrementalAlterConfigs(r) => {
            r.responses.iter().map(|t| t.error_code).collect()
        }
        ResponseKind::DescribeCluster(r) => vec![r.error_code],
        ResponseKind::FindCoordinator(r) => {
            let mut codes = vec![r.error_code];
            codes.extend(r.coordinators.iter().map(|c| c.error_code));
            codes
        }
        ResponseKind::JoinGroup(r) => vec![r.error_code],
        ResponseKind::SyncGroup(r) => vec![r.error_code],
        ResponseKind::Heartbeat(r) => vec![r.error_code],
        ResponseKind::LeaveGroup(r) => {
            let mut codes = vec![r.error_code];
            codes.extend(r.members.iter().map(|m| m.error_code));
            codes
        }
        ResponseKind::OffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        ResponseKind::OffsetFetch(r) => {
            let mut codes = vec![r.error_code];
            codes.extend(
                r.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            );
            codes.extend(r.groups.iter().map(|g| g.error_code));
            codes
        }
        ResponseKind::OffsetDelete(r) => {
            let mut codes = vec![r.error_code];
            codes.extend(
                r.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            );
            codes
        }
        ResponseKind::ListGroups(r) => vec![r.error_code],
        ResponseKind::DescribeGroups(r) => r.groups.iter().map(|g| g.error_code).collect(),
        ResponseKind::DeleteGroups(r) => r.results.iter().map(|g| g.error_code).collect(),
        other => panic!("unexpected response {other:?}"),
    }
}

fn advertised(raw: &mut Raw) -> Vec<(ApiKey, i16, i16)> {
    let Some(ResponseKind::ApiVersions(response)) =
        raw.request(sample_request(ApiKey::ApiVersions, 3, uuid::Uuid::nil()), 3)
    else {
        panic!("no ApiVersions response");
    };
    assert_eq!(response.error_code, 0);
    response
        .api_keys
        .iter()
        .map(|k| {
            (
                ApiKey::try_from(k.api_key).expect("known key"),
                k.min_version,
                k.max_version,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_advertised_version_of_every_api_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker =
        TestBroker::start_with(dir.path(), &[("group.initial.rebalance.delay.ms", "0")]).await;
    let bootstrap = broker.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(&bootstrap);
        let apis = advertised(&mut raw);
        for required in [
            ApiKey::Produce,
            ApiKey::Fetch,
            ApiKey::Metadata,
            ApiKey::ListOffsets,
            ApiKey::CreateTopics,
        ] {
            assert!(
                apis.iter().any(|a| a.0 == required),
                "{required:?} not advertised"
            );
        }
        let mut versions = CreateTopicsRequest::default();
        let mut topic = create_topics_request::CreatableTopic::default();
        topic.name = name("versions");
        topic.num_partitions = 1;
        topic.replication_factor = 1;
        versions.topics = vec![topic];
        let Some(ResponseKind::CreateTopics(response)) =
            raw.request(RequestKind::CreateTopics(versions), 7)
        else {
            panic!("no CreateTopics response");
        };
        let topic_id = response.topics[0].topic_id;
        assert!(!topic_id.is_nil());
        // Produce comes first, so every Fetch and ListOffsets version finds a record.
        for (api, min, max) in apis {
            for version in min..=max {
                let answered = raw.request(sample_request(api, version, topic_id), version);
                let response =
                    answered.unwrap_or_else(|| panic!("{api:?} v{version} closed the connection"));
                let codes = error_codes(&response);
                assert!(
                    codes
                        .iter()
                        .all(|c| *c == 0 || expected_errors(api).contains(c)),
                    "{api:?} v{version} errors {codes:?}: {response:?}"
                );
            }
        }
    })
    .await
    .expect("raw client");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_api_versions_version_gets_a_v0_reply_with_unsupported_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path()).await;
    let bootstrap = broker.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(&bootstrap);
        // ApiVersions v99, correlation id 7, then bytes no one can decode.
        raw.send_frame(&[0, 18, 0, 99, 0, 0, 0, 7, 0xde, 0xad])
            .expect("send");
        let mut frame = raw.read_frame().expect("a reply, not a closed connection");
        let header = ResponseHeader::decode(&mut frame, 0).expect("header");
        assert_eq!(header.correlation_id, 7);
        let response = ApiVersionsResponse::decode(&mut frame, 0).expect("v0 body");
        assert_eq!(response.error_code, 35);
        assert!(response
            .api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::Produce as i16));
        // The client retries with a version we know, on the same connection.
        assert!(raw
            .request(sample_request(ApiKey::ApiVersions, 3, uuid::Uuid::nil()), 3)
            .is_some());
    })
    .await
    .expect("raw client");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_only_their_own_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path()).await;
    let bootstrap = broker.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let mut bystander = Raw::connect(&bootstrap);
        assert!(bystander
            .request(sample_request(ApiKey::Metadata, 9, uuid::Uuid::nil()), 9)
            .is_some());

        let mut absurd = Raw::connect(&bootstrap);
        absurd
            .stream
            .write_all(&i32::MAX.to_be_bytes())
            .expect("send");
        assert!(
            absurd.is_closed(),
            "an absurd length prefix must close the connection"
        );

        let mut negative = Raw::connect(&bootstrap);
        negative
            .stream
            .write_all(&(-1i32).to_be_bytes())
            .expect("send");
        assert!(negative.is_closed());

        let mut unknown = Raw::connect(&bootstrap);
        unknown
            .send_frame(&[0x03, 0xe7, 0, 0, 0, 0, 0, 1])
            .expect("send");
        assert!(
            unknown.is_closed(),
            "an unknown API key must close the connection"
        );

        let mut short = Raw::connect(&bootstrap);
        short.send_frame(&[0, 3]).expect("send");
        assert!(short.is_closed());

        // A Metadata v9 header whose body stops half-way.
        let mut truncated = Raw::connect(&bootstrap);
        truncated
            .send_frame(&[0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 0, 5, 0xff])
            .expect("send");
        assert!(
            truncated.is_closed(),
            "a body that does not decode must close the connection"
        );

        // A client that promises 100 bytes and leaves after 10.
        let mut quitter = Raw::connect(&bootstrap);
        quitter
            .stream
            .write_all(&100i32.to_be_bytes())
            .expect("send");
        quitter.stream.write_all(&[0u8; 10]).expect("send");
        drop(quitter);

        assert!(bystander
            .request(sample_request(ApiKey::Metadata, 9, uuid::Uuid::nil()), 9)
            .is_some());
        assert!(Raw::connect(&bootstrap)
            .request(sample_request(ApiKey::ApiVersions, 3, uuid::Uuid::nil()), 3)
            .is_some());
    })
    .await
    .expect("raw client");
    broker.stop().await;
}

fn record_batch(value: &[u8]) -> Bytes {
    producer_batch(value, -1, -1, -1)
}

/// A one-record batch from producer `producer_id` with sequence number `sequence`.
fn producer_batch(value: &[u8], producer_id: i64, epoch: i16, sequence: i32) -> Bytes {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence,
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(Bytes::copy_from_slice(value)),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options).expect("encode");
    buf.freeze()
}

fn produce_request(topic: &str, records: Bytes, acks: i16) -> ProduceRequest {
    let mut partition = produce_request::PartitionProduceData::default();
    partition.index = 0;
    partition.records = Some(records);
    let mut data = produce_request::TopicProduceData::default();
    data.name = TopicName(StrBytes::from_string(topic.to_string()));
    data.partition_data = vec![partition];
    let mut request = ProduceRequest::default();
    request.acks = acks;
    request.timeout_ms = 5000;
    request.topic_data = vec![data];
    request
}

fn produce(raw: &mut Raw, topic: &str, records: Bytes) -> (i16, i64) {
    let request = produce_request(topic, records, -1);
    let Some(ResponseKind::Produce(response)) = raw.request(RequestKind::Produce(request), 9)
    else {
        panic!("no produce response");
    };
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_batches_get_kafka_error_codes_and_leave_the_log_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path()).await;
    let bootstrap = broker.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(&bootstrap);
        let mut metadata = MetadataRequest::default();
        let mut wanted = metadata_request::MetadataRequestTopic::default();
        wanted.name = Some(TopicName(StrBytes::from_static_str("wire")));
        metadata.topics = Some(vec![wanted]);
        metadata.allow_auto_topic_creation = true;
        assert!(raw.request(RequestKind::Metadata(metadata), 9).is_some());

        let good = record_batch(b"hello");
        let mut flipped = good.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        assert_eq!(
            produce(&mut raw, "wire", Bytes::from(flipped)).0,
            2,
            "CORRUPT_MESSAGE"
        );
        let mut old_magic = good.to_vec();
        old_magic[16] = 1;
        assert_eq!(produce(&mut raw, "wire", Bytes::from(old_magic)).0, 2);
        assert_eq!(produce(&mut raw, "wire", good.slice(..40)).0, 2);
        assert_eq!(
            produce(&mut raw, "nowhere", good.clone()).0,
            3,
            "UNKNOWN_TOPIC_OR_PARTITION"
        );
        assert_eq!(
            produce(&mut raw, "wire", good.clone()),
            (0, 0),
            "the log is still empty"
        );
        assert_eq!(produce(&mut raw, "wire", good.clone()), (0, 1));

        // acks=0 gets no response: the next frame answers the request after it.
        raw.send(
            &RequestKind::Produce(produce_request("wire", good.clone(), 0)),
            9,
        );
        assert_eq!(
            produce(&mut raw, "wire", good),
            (0, 3),
            "acks=0 appended offset 2 silently"
        );

        let mut partition = fetch_request::FetchPartition::default();
        partition.fetch_offset = 100;
        partition.partition_max_bytes = 1 << 20;
        let mut topic = fetch_request::FetchTopic::default();
        topic.topic = name("wire");
        topic.partitions = vec![partition];
        let mut fetch = FetchRequest::default();
        fetch.max_wait_ms = 5000;
        fetch.min_bytes = 1;
        fetch.topics = vec![topic];
        let Some(ResponseKind::Fetch(response)) = raw.request(RequestKind::Fetch(fetch), 12) else {
            panic!("no fetch response");
        };
        let p = &response.responses[0].partitions[0];
        assert_eq!(p.error_code, 1, "OFFSET_OUT_OF_RANGE, answered at once");
        assert_eq!(p.high_watermark, 4);
    })
    .await
    .expect("raw client");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_member_walks_the_group_protocol_at_every_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker =
        TestBroker::start_with(dir.path(), &[("group.initial.rebalance.delay.ms", "0")]).await;
    let bootstrap = broker.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(&bootstrap);
        let mut create = CreateTopicsRequest::default();
        let mut topic = create_topics_request::CreatableTopic::default();
        topic.name = name("versions");
        topic.num_partitions = 1;
        topic.replication_factor = 1;
        create.topics = vec![topic];
        assert!(raw.request(RequestKind::CreateTopics(create), 7).is_some());
        for join_version in 0..=9i16 {
            let group = format!("walk-v{join_version}");
            let Some(ResponseKind::JoinGroup(mut joined)) = raw.request(
                RequestKind::JoinGroup(join_request(&group, "", join_version)),
                join_version,
            ) else {
                panic!("no JoinGroup response");
            };
            if join_version >= 4 {
                assert_eq!(
                    joined.error_code, 79,
                    "v{join_version}: MEMBER_ID_REQUIRED first"
                );
                let member_id = joined.member_id.to_string();
                let Some(ResponseKind::JoinGroup(again)) = raw.request(
                    RequestKind::JoinGroup(join_request(&group, &member_id, join_version)),
                    join_version,
                ) else {
                    panic!("no JoinGroup response");
                };
                joined = again;
            }
            assert_eq!(joined.error_code, 0, "v{join_version}");
            assert_eq!(joined.leader, joined.member_id, "the only member leads");
            assert_eq!(joined.members.len(), 1);
            let member = joined.member_id.to_string();
            let generation = joined.generation_id;

            let capped = |max: i16| join_version.min(max);
            let mut sync = SyncGroupRequest::default();
            sync.group_id = GroupId(text(&group));
            sync.generation_id = generation;
            sync.member_id = text(&member);
            sync.group_instance_id = None;
            sync.protocol_type = (capped(5) >= 5).then(|| text("consumer"));
            sync.protocol_name = (capped(5) >= 5).then(|| text("range"));
            let mut assignment = sync_group_request::SyncGroupRequestAssignment::default();
            assignment.member_id = text(&member);
            assignment.assignment = Bytes::from_static(b"assigned");
            sync.assignments = vec![assignment];
            let Some(ResponseKind::SyncGroup(synced)) =
                raw.request(RequestKind::SyncGroup(sync), capped(5))
            else {
                panic!("no SyncGroup response");
            };
            assert_eq!(
                (synced.error_code, &synced.assignment[..]),
                (0, &b"assigned"[..]),
                "v{join_version}"
            );

            let mut beat = HeartbeatRequest::default();
            beat.group_id = GroupId(text(&group));
            beat.generation_id = generation;
            beat.member_id = text(&member);
            beat.group_instance_id = None;
            let Some(ResponseKind::Heartbeat(beat)) =
                raw.request(RequestKind::Heartbeat(beat), capped(4))
            else {
                panic!("no Heartbeat response");
            };
            assert_eq!(beat.error_code, 0);

            let commit_version = join_version.clamp(2, 9);
            let commit = commit_request(&group, generation, &member, 42 + i64::from(join_version));
            let Some(ResponseKind::OffsetCommit(committed)) =
                raw.request(RequestKind::OffsetCommit(commit), commit_version)
            else {
                panic!("no OffsetCommit response");
            };
            assert_eq!(
                committed.topics[0].partitions[0].error_code, 0,
                "commit v{commit_version}"
            );

            for fetch_version in [1i16, 5, 7, 8, 9] {
                let request =
                    RequestKind::OffsetFetch(fetch_offsets_request(&group, fetch_version));
                let Some(ResponseKind::OffsetFetch(fetched)) = raw.request(request, fetch_version)
                else {
                    panic!("no OffsetFetch response");
                };
                let offset = if fetch_version >= 8 {
                    fetched.groups[0].topics[0].partitions[0].committed_offset
                } else {
                    fetched.topics[0].partitions[0].committed_offset
                };
                assert_eq!(
                    offset,
                    42 + i64::from(join_version),
                    "fetch v{fetch_version}"
                );
            }

            let leave = leave_request(&group, &member, capped(5));
            let Some(ResponseKind::LeaveGroup(left)) =
                raw.request(RequestKind::LeaveGroup(leave), capped(5))
            else {
                panic!("no LeaveGroup response");
            };
            assert_eq!(left.error_code, 0);
            assert!(left.members.iter().all(|m| m.error_code == 0));
        }
    })
    .await
    .expect("raw client");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_idempotent_batch_is_stored_once_even_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path()).await;
    let bootstrap = broker.bootstrap.clone();
    let producer_id = tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(&bootstrap);
        let mut metadata = MetadataRequest::default();
        let mut wanted = metadata_request::MetadataRequestTopic::default();
        wanted.name = Some(name("idem"));
        metadata.topics = Some(vec![wanted]);
        metadata.allow_auto_topic_creation = true;
        assert!(raw.request(RequestKind::Metadata(metadata), 9).is_some());
        let mut init = InitProducerIdRequest::default();
        init.transactional_id = None;
        init.transaction_timeout_ms = 60_000;
        let Some(ResponseKind::InitProducerId(init)) =
            raw.request(RequestKind::InitProducerId(init), 4)
        else {
            panic!("no InitProducerId response");
        };
        assert_eq!(init.error_code, 0);
        let pid = init.producer_id.0;
        assert_eq!(
            produce(&mut raw, "idem", producer_batch(b"a", pid, 0, 0)),
            (0, 0)
        );
        // The response was "lost": the producer sends the very same batch again.
        assert_eq!(
            produce(&mut raw, "idem", producer_batch(b"a", pid, 0, 0)),
            (0, 0),
            "duplicate"
        );
        assert_eq!(
            produce(&mut raw, "idem", producer_batch(b"b", pid, 0, 1)),
            (0, 1)
        );
        assert_eq!(
            produce(&mut raw, "idem", producer_batch(b"d", pid, 0, 3)).0,
            45,
            "OUT_OF_ORDER_SEQUENCE_NUMBER"
        );
        pid
    })
    .await
    .expect("raw client");
    broker.stop().await;

    let broker = TestBroker::start(dir.path()).await;
    let bootstrap = broker.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(&bootstrap);
        assert_eq!(
            produce(&mut raw, "idem", producer_batch(b"b", producer_id, 0, 1)),
            (0, 1),
            "still a duplicate"
        );
        assert_eq!(
            produce(&mut raw, "idem", producer_batch(b"c", producer_id, 0, 2)),
            (0, 2)
        );
    })
    .await
    .expect("raw client");
    let messages = common::consume(&broker.bootstrap, "idem", 1, rdkafka::Offset::Beginning, 3);
    assert_eq!(common::payloads(&messages), ["a", "b", "c"]);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_that_rejoins_fences_its_old_incarnation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker =
        TestBroker::start_with(dir.path(), &[("group.initial.rebalance.delay.ms", "0")]).await;
    let bootstrap = broker.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(&bootstrap);
        let join = |raw: &mut Raw| {
            let mut request = join_request("static", "", 5);
            request.group_instance_id = Some(text("instance-1"));
            let Some(ResponseKind::JoinGroup(joined)) =
                raw.request(RequestKind::JoinGroup(request), 5)
            else {
                panic!("no JoinGroup response");
            };
            joined
        };
        let first = join(&mut raw);
        assert_eq!(
            first.error_code, 0,
            "a static member needs no MEMBER_ID_REQUIRED round trip"
        );
        // The process restarts and joins again under the same instance id.
        let second = join(&mut raw);
        assert_eq!(second.error_code, 0);
        assert_ne!(first.member_id, second.member_id);
        let beat = |raw: &mut Raw, member: &StrBytes, generation: i32| {
            let mut request = HeartbeatRequest::default();
            request.group_id = GroupId(text("static"));
            request.generation_id = generation;
            request.member_id = member.clone();
            request.group_instance_id = Some(text("instance-1"));
            let Some(ResponseKind::Heartbeat(response)) =
                raw.request(RequestKind::Heartbeat(request), 4)
            else {
                panic!("no Heartbeat response");
            };
            response.error_code
        };
        assert_eq!(
            beat(&mut raw, &first.member_id, first.generation_id),
            82,
            "FENCED_INSTANCE_ID"
        );
        assert_ne!(beat(&mut raw, &second.member_id, second.generation_id), 82);
    })
    .await
    .expect("raw client");
    broker.stop().await;
}

/// Sets a batch's record count (and last offset delta to match) and recomputes its CRC, so only
/// the records inside can give it away.
fn with_claimed_count(batch: &[u8], count: i32) -> Bytes {
    let mut out = batch.to_vec();
    out[57..61].copy_from_slice(&count.to_be_bytes());
    out[23..27].copy_from_slice(&(count - 1).to_be_bytes());
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

/// Garbage where the records should be, behind a valid CRC.
fn with_garbage_records(batch: &[u8]) -> Bytes {
    let mut out = batch.to_vec();
    for byte in &mut out[61..] {
        *byte = 0xfe;
    }
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

/// The broker reads every record of a batch before storing it, as Kafka's LogValidator does: a
/// batch with garbage records and a valid CRC, or one claiming 2^31-1 records while holding one,
/// is refused with INVALID_RECORD and a message, the high watermark does not move, and clients
/// go on reading the partition. On a compacted topic the refusal says what is wrong with the
/// records rather than that a key is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_with_corrupt_records_are_refused_before_they_are_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path()).await;
    let bootstrap = broker.bootstrap.clone();
    let raw_bootstrap = bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(&raw_bootstrap);
        let mut create = CreateTopicsRequest::default();
        for (topic_name, policy) in [("plain", "delete"), ("compacted", "compact")] {
            let mut topic = create_topics_request::CreatableTopic::default();
            topic.name = name(topic_name);
            topic.num_partitions = 1;
            topic.replication_factor = 1;
            let mut config = create_topics_request::CreatableTopicConfig::default();
            config.name = text("cleanup.policy");
            config.value = Some(text(policy));
            topic.configs = vec![config];
            create.topics.push(topic);
        }
        assert!(raw.request(RequestKind::CreateTopics(create), 5).is_some());
        let good = record_batch(b"hello");
        assert_eq!(produce(&mut raw, "plain", good.clone()), (0, 0));

        let refusal = |raw: &mut Raw, topic: &str, records: Bytes| -> (i16, String) {
            let request = produce_request(topic, records, -1);
            let Some(ResponseKind::Produce(response)) =
                raw.request(RequestKind::Produce(request), 9)
            else {
                panic!("no produce response");
            };
            let p = &response.responses[0].partition_responses[0];
            let message = p.error_message.as_ref().map(|m| m.to_string());
            (p.error_code, message.unwrap_or_default())
        };
        let (code, message) = refusal(&mut raw, "plain", with_garbage_records(&good));
        assert_eq!(code, 87, "INVALID_RECORD: {message}");
        assert!(message.contains("invalid record structure"), "{message}");
        let (code, message) = refusal(&mut raw, "plain", with_claimed_count(&good, i32::MAX));
        assert_eq!(code, 87, "INVALID_RECORD: {message}");
        assert!(
            message.contains("2147483647 records but the batch holds 1"),
            "{message}"
        );
        let (code, message) = refusal(&mut raw, "compacted", with_garbage_records(&good));
        assert_eq!(code, 87);
        assert!(
            message.contains("invalid record structure") && !message.contains("without key"),
            "{message}"
        );
        // Nothing of those moved the log: the next good batch takes offset 1.
        assert_eq!(produce(&mut raw, "plain", good.clone()), (0, 1));
        // Lookups by time still read the log.
        let mut lookup = list_offsets_request::ListOffsetsPartition::default();
        lookup.partition_index = 0;
        lookup.timestamp = 0;
        let mut topic = list_offsets_request::ListOffsetsTopic::default();
        topic.name = name("plain");
        topic.partitions = vec![lookup];
        let mut request = ListOffsetsRequest::default();
        request.replica_id = BrokerId(-1);
        request.topics = vec![topic];
        let Some(ResponseKind::ListOffsets(response)) =
            raw.request(RequestKind::ListOffsets(request), 7)
        else {
            panic!("no list offsets response");
        };
        let p = &response.topics[0].partitions[0];
        assert_eq!((p.error_code, p.offset), (0, 0));
    })
    .await
    .expect("raw client");
    // librdkafka reads the partition to its end.
    let messages = common::consume_to_end(&bootstrap, "plain", 0);
    assert_eq!(common::payloads(&messages), ["hello", "hello"]);
    broker.stop().await;
}
