//! DescribeCluster: this one broker.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};

use super::str_bytes;
use crate::protocol::dispatch::Ctx;
use crate::server::Broker;

pub fn handle(broker: &Broker, req: DescribeClusterRequest, ctx: Ctx) -> DescribeClusterResponse {
    let config = &broker.config;
    let advertised = config.advertised_for(ctx.endpoint);
    let mut me = DescribeClusterBroker::default();
    me.broker_id = config.node_id.into();
    me.host = str_bytes(advertised.host.clone());
    me.port = i32::from(advertised.port);
    let mut response = DescribeClusterResponse::default();
    response.cluster_id = str_bytes(broker.cluster_id.clone());
    response.controller_id = config.node_id.into();
    response.endpoint_type = req.endpoint_type;
    response.brokers = vec![me];
    response
}
