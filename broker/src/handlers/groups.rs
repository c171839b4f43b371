//! The consumer group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit, OffsetFetch, OffsetDelete, ListGroups, DescribeGroups and DeleteGroups. They
//! translate between wire messages and the [`GroupCoordinator`](crate::group::GroupCoordinator).

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::*;

use super::str_bytes;
use crate::group::coordinator::DurableWrite;
use crate::group::state::JoinResult;
use crate::group::store::CommittedOffset;
use crate::group::{JoinArgs, MemberRef, Pending};
use crate::log::segment::now_ms;
use crate::protocol::dispatch::{Ctx, DispatchError, Reply};
use crate::server::Broker;

/// Waits for a `__consumer_offsets` write to reach disk.
async fn durable(broker: &Broker, write: DurableWrite) -> bool {
    match write {
        None => true,
        Some((partition, end)) => {
            partition.request_flush(&broker.topics.flush_queue);
            partition.wait_durable(end).await.is_ok()
        }
    }
}

pub fn find_coordinator(
    broker: &Broker,
    req: FindCoordinatorRequest,
    ctx: Ctx,
) -> FindCoordinatorResponse {
    let version = ctx.version;
    let config = &broker.config;
    let advertised = config.advertised_for(ctx.endpoint);
    let keys = if version >= 4 {
        req.coordinator_keys.clone()
    } else {
        vec![req.key.clone()]
    };
    let answer = |key: &str| {
        let mut c = find_coordinator_response::Coordinator::default();
        c.key = str_bytes(key);
        if req.key_type == 0 {
            c.node_id = config.node_id.into();
            c.host = str_bytes(advertised.host.clone());
            c.port = i32::from(advertised.port);
        } else {
            c.error_code = ResponseError::CoordinatorNotAvailable.code();
            c.error_message = Some(str_bytes("transactions are not supported"));
            c.node_id = (-1).into();
            c.port = -1;
        }
        c
    };
    let mut response = FindCoordinatorResponse::default();
    if version >= 4 {
        response.coordinators = keys.iter().map(|k| answer(k.as_str())).collect();
    } else {
        let c = answer(req.key.as_str());
        response.error_code = c.error_code;
        if version >= 1 {
            response.error_message = c.error_message;
        }
        response.node_id = c.node_id;
        response.host = c.host;
        response.port = c.port;
    }
    response
}

pub fn join(
    broker: &Arc<Broker>,
    req: JoinGroupRequest,
    ctx: Ctx,
    client_id: String,
    client_host: String,
) -> Reply {
    let version = ctx.version;
    let args = JoinArgs {
        group_id: req.group_id.0.to_string(),
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.as_ref().map(|i| i.to_string()),
        client_id,
        client_host,
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
        require_member_id: version >= 4,
    };
    let member_id = args.member_id.clone();
    let outcome = broker.groups.join(args);
    Reply::Later(Box::pin(async move {
        let result = match outcome {
            Pending::Ready(result) => result,
            Pending::Wait(rx) => rx
                .await
                .unwrap_or_else(|_| JoinResult::error(ResponseError::UnknownMemberId, &member_id)),
        };
        ctx.encode(&join_response(result, version)).ok()
    }))
}

fn join_response(result: JoinResult, version: i16) -> JoinGroupResponse {
    let mut response = JoinGroupResponse::default();
    response.error_code = result.error;
    response.generation_id = result.generation;
    if version >= 7 {
        response.protocol_type = result.protocol_type.map(str_bytes);
    }
    response.protocol_name = match (version >= 7, result.protocol) {
        (_, Some(p)) => Some(str_bytes(p)),
        (true, None) => None,
        (false, None) => Some(str_bytes("")),
    };
    response.leader = str_bytes(result.leader);
    response.member_id = str_bytes(result.member_id);
    response.members = result
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            let mut m = join_group_response::JoinGroupResponseMember::default();
            m.member_id = str_bytes(id);
            if version >= 5 {
                m.group_instance_id = instance.map(str_bytes);
            }
            m.metadata = metadata;
            m
        })
        .collect();
    response
}

pub fn sync(broker: &Arc<Broker>, req: SyncGroupRequest, ctx: Ctx) -> Reply {
    let assignments: HashMap<String, bytes::Bytes> = req
        .assignments
        .iter()
        .map(|a| (a.member_id.to_string(), a.assignment.clone()))
        .collect();
    let (outcome, write) = broker.groups.sync(
        &broker.topics,
        MemberRef {
            group_id: req.group_id.0.as_str(),
            generation: req.generation_id,
            member_id: req.member_id.as_str(),
            instance_id: req.group_instance_id.as_ref().map(|i| i.as_str()),
        },
        req.protocol_type.as_ref().map(|p| p.as_str()),
        req.protocol_name.as_ref().map(|p| p.as_str()),
        assignments,
    );
    let broker = Arc::clone(broker);
    Reply::Later(Box::pin(async move {
        let stored = durable(&broker, write).await;
        let (error, assignment) = match outcome {
            Pending::Ready(r) => r,
            Pending::Wait(rx) => rx
                .await
                .unwrap_or((ResponseError::UnknownMemberId.code(), bytes::Bytes::new())),
        };
        let mut response = SyncGroupResponse::default();
        response.error_code = if stored {
            error
        } else {
            ResponseError::UnknownServerError.code()
        };
        response.assignment = assignment;
        if ctx.version >= 5 && response.error_code == 0 {
            let description = broker.groups.describe(req.group_id.0.as_str());
            response.protocol_type = Some(str_bytes(description.protocol_type));
            response.protocol_name = Some(str_bytes(description.protocol));
        }
        ctx.encode(&response).ok()
    }))
}

pub fn heartbeat(broker: &Broker, req: HeartbeatRequest, _version: i16) -> HeartbeatResponse {
    let mut response = HeartbeatResponse::default();
    response.error_code = broker.groups.heartbeat(MemberRef {
        group_id: req.group_id.0.as_str(),
        generation: req.generation_id,
        member_id: req.member_id.as_str(),
        instance_id: req.group_instance_id.as_ref().map(|i| i.as_str()),
    });
    response
}

pub fn leave(broker: &Broker, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let leaving: Vec<(String, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|i| i.to_string()),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    let mut response = LeaveGroupResponse::default();
    match broker.groups.leave(req.group_id.0.as_str(), &leaving) {
        Err(code) => response.error_code = code,
        Ok(codes) if version >= 3 => {
            response.members = leaving
                .into_iter()
                .zip(codes)
                .map(|((member_id, instance), code)| {
                    let mut m = leave_group_response::MemberResponse::default();
                    m.member_id = str_bytes(member_id);
                    m.group_instance_id = instance.map(str_bytes);
                    m.error_code = code;
                    m
                })
                .collect();
        }
        Ok(codes) => response.error_code = codes.first().copied().unwrap_or(0),
    }
    response
}

pub fn offset_commit(
    broker: &Arc<Broker>,
    req: OffsetCommitRequest,
    ctx: Ctx,
) -> Result<Reply, DispatchError> {
    let now = now_ms();
    let mut offsets = Vec::new();
    for topic in &req.topics {
        for p in &topic.partitions {
            offsets.push((
                topic.name.0.to_string(),
                p.partition_index,
                CommittedOffset {
                    offset: p.committed_offset,
                    leader_epoch: if ctx.version >= 6 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata: p
                        .committed_metadata
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                    commit_timestamp: now,
                },
            ));
        }
    }
    let (codes, write) = broker.groups.commit(
        &broker.topics,
        MemberRef {
            group_id: req.group_id.0.as_str(),
            generation: req.generation_id_or_member_epoch,
            member_id: req.member_id.as_str(),
            instance_id: req.group_instance_id.as_ref().map(|i| i.as_str()),
        },
        offsets,
    );
    let mut response = OffsetCommitResponse::default();
    let mut codes = codes.into_iter();
    for topic in req.topics {
        let mut t = offset_commit_response::OffsetCommitResponseTopic::default();
        t.name = topic.name;
        t.partitions = topic
            .partitions
            .iter()
            .map(|p| {
                let mut r = offset_commit_response::OffsetCommitResponsePartition::default();
                r.partition_index = p.partition_index;
                r.error_code = codes.next().unwrap_or(0);
                r
            })
            .collect();
        response.topics.push(t);
    }
    if write.is_none() {
        return Ok(Reply::Now(ctx.encode(&response)?));
    }
    let broker = Arc::clone(broker);
    Ok(Reply::Later(Box::pin(async move {
        if !durable(&broker, write).await {
            for p in response
                .topics
                .iter_mut()
                .flat_map(|t| t.partitions.iter_mut())
            {
                p.error_code = ResponseError::UnknownServerError.code();
            }
        }
        ctx.encode(&response).ok()
    })))
}

pub fn offset_fetch(broker: &Broker, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
    let mut response = OffsetFetchResponse::default();
    if version >= 8 {
        for group in req.groups {
            let wanted = group.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name.0.to_string(), t.partition_indexes))
                    .collect()
            });
            let mut g = offset_fetch_response::OffsetFetchResponseGroup::default();
            g.group_id = group.group_id.clone();
            for (topic, partitions) in broker
                .groups
                .fetch_offsets(group.group_id.0.as_str(), wanted)
            {
                let mut t = offset_fetch_response::OffsetFetchResponseTopics::default();
                t.name = TopicName(str_bytes(topic));
                t.partitions = partitions
                    .into_iter()
                    .map(|(index, committed)| {
                        let mut p = offset_fetch_response::OffsetFetchResponsePartitions::default();
                        p.partition_index = index;
                        let c = committed.unwrap_or(CommittedOffset {
                            offset: -1,
                            leader_epoch: -1,
                            metadata: String::new(),
                            commit_timestamp: -1,
                        });
                        p.committed_offset = c.offset;
                        p.committed_leader_epoch = c.leader_epoch;
                        p.metadata = Some(str_bytes(c.metadata));
                        p
                    })
                    .collect();
                g.topics.push(t);
            }
            response.groups.push(g);
        }
        return response;
    }
    let wanted = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    for (topic, partitions) in broker.groups.fetch_offsets(req.group_id.0.as_str(), wanted) {
        let mut t = offset_fetch_response::OffsetFetchResponseTopic::default();
        t.name = TopicName(str_bytes(topic));
        t.partitions = partitions
            .into_iter()
            .map(|(index, committed)| {
                let mut p = offset_fetch_response::OffsetFetchResponsePartition::default();
                p.partition_index = index;
                match committed {
                    Some(c) => {
                        p.committed_offset = c.offset;
                        if version >= 5 {
                            p.committed_leader_epoch = c.leader_epoch;
                        }
                        p.metadata = Some(str_bytes(c.metadata));
                    }
                    None => {
                        p.committed_offset = -1;
                        p.metadata = Some(str_bytes(""));
                    }
                }
                p
            })
            .collect();
        response.topics.push(t);
    }
    response
}

pub fn list_groups(broker: &Broker, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let mut response = ListGroupsResponse::default();
    response.groups = broker
        .groups
        .list()
        .into_iter()
        .filter(|(_, _, state)| {
            req.states_filter.is_empty() || req.states_filter.iter().any(|s| s.as_str() == *state)
        })
        // Every group here speaks the classic protocol.
        .filter(|_| {
            req.types_filter.is_empty()
                || req
                    .types_filter
                    .iter()
                    .any(|t| t.as_str().eq_ignore_ascii_case("classic"))
        })
        .map(|(id, protocol_type, state)| {
            let mut g = list_groups_response::ListedGroup::default();
            g.group_id = GroupId(str_bytes(id));
            g.protocol_type = str_bytes(protocol_type);
            if version >= 4 {
                g.group_state = str_bytes(state);
            }
            if version >= 5 {
                g.group_type = str_bytes("classic");
            }
            g
        })
        .collect();
    response
}

pub fn describe_groups(
    broker: &Broker,
    req: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let mut response = DescribeGroupsResponse::default();
    for id in req.groups {
        let d = broker.groups.describe(id.0.as_str());
        let mut g = describe_groups_response::DescribedGroup::default();
        g.group_id = id;
        g.group_state = str_bytes(d.state);
        g.protocol_type = str_bytes(d.protocol_type);
        g.protocol_data = str_bytes(d.protocol);
        g.members = d
            .members
            .into_iter()
            .map(
                |(member_id, instance, client_id, host, metadata, assignment)| {
                    let mut m = describe_groups_response::DescribedGroupMember::default();
                    m.member_id = str_bytes(member_id);
                    if version >= 4 {
                        m.group_instance_id = instance.map(str_bytes);
                    }
                    m.client_id = str_bytes(client_id);
                    m.client_host = str_bytes(host);
                    m.member_metadata = metadata;
                    m.member_assignment = assignment;
                    m
                },
            )
            .collect();
        response.groups.push(g);
    }
    response
}

pub fn delete_groups(broker: &Arc<Broker>, req: DeleteGroupsRequest, ctx: Ctx) -> Reply {
    let ids: Vec<String> = req.groups_names.iter().map(|g| g.0.to_string()).collect();
    let (codes, writes) = broker.groups.delete_groups(&broker.topics, &ids);
    let broker = Arc::clone(broker);
    Reply::Later(Box::pin(async move {
        let mut stored = true;
        for write in writes {
            stored &= durable(&broker, write).await;
        }
        let mut response = DeleteGroupsResponse::default();
        response.results = req
            .groups_names
            .into_iter()
            .zip(codes)
            .map(|(id, code)| {
                let mut r = delete_groups_response::DeletableGroupResult::default();
                r.group_id = id;
                r.error_code = if stored {
                    code
                } else {
                    ResponseError::UnknownServerError.code()
                };
                r
            })
            .collect();
        ctx.encode(&response).ok()
    }))
}

pub fn offset_delete(broker: &Arc<Broker>, req: OffsetDeleteRequest, ctx: Ctx) -> Reply {
    let wanted: Vec<(String, Vec<i32>)> = req
        .topics
        .iter()
        .map(|t| {
            (
                t.name.0.to_string(),
                t.partitions.iter().map(|p| p.partition_index).collect(),
            )
        })
        .collect();
    let outcome = broker
        .groups
        .delete_offsets(&broker.topics, req.group_id.0.as_str(), &wanted);
    let broker = Arc::clone(broker);
    Reply::Later(Box::pin(async move {
        let mut response = OffsetDeleteResponse::default();
        match outcome {
            Err(code) => response.error_code = code,
            Ok((codes, write)) => {
                let stored = durable(&broker, write).await;
                for (topic, codes) in req.topics.into_iter().zip(codes) {
                    let mut t = offset_delete_response::OffsetDeleteResponseTopic::default();
                    t.name = topic.name;
                    t.partitions = topic
                        .partitions
                        .iter()
                        .zip(codes)
                        .map(|(p, code)| {
                            let mut r =
                                offset_delete_response::OffsetDeleteResponsePartition::default();
                            r.partition_index = p.partition_index;
                            r.error_code = if stored {
                                code
                            } else {
                                ResponseError::UnknownServerError.code()
                            };
                            r
                        })
                        .collect();
                    response.topics.push(t);
                }
            }
        }
        ctx.encode(&response).ok()
    }))
}
