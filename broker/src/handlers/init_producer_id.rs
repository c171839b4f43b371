//! InitProducerId: producer ids for idempotent producers. Transactions are not supported.

use std::sync::atomic::Ordering;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};

use crate::server::Broker;

pub fn handle(
    broker: &Broker,
    req: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    if req.transactional_id.is_some() {
        tracing::warn!("refused a transactional producer: transactions are not supported");
        response.error_code = ResponseError::InvalidRequest.code();
        response.producer_id = (-1).into();
        response.producer_epoch = -1;
        return response;
    }
    response.producer_id = broker
        .next_producer_id
        .fetch_add(1, Ordering::Relaxed)
        .into();
    response.producer_epoch = 0;
    response
}
