//! `POST /orders` with `{"id": N}` and `GET /orders/{id}`: the store's create and read
//! endpoints, answered by any app replica from the shared store.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;

use super::json::{error_response, json_response};
use super::store::{Created, Store};

const MAX_BODY: usize = 64 * 1024;

#[derive(serde::Deserialize)]
struct NewOrder {
    id: u64,
}

pub(crate) async fn handle(
    req: Request<Incoming>,
    store: &Arc<Store>,
    replica: &str,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    match (req.method(), path.strip_prefix("/orders/")) {
        (&Method::POST, None) => create(req, store, replica).await,
        (&Method::GET, Some(id)) => match id.parse::<u64>() {
            Ok(id) => read(store, id, replica),
            Err(_) => error_response(StatusCode::BAD_REQUEST, "the id must be a number"),
        },
        _ => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "use POST /orders with {\"id\": N} or GET /orders/{id}",
        ),
    }
}

async fn create(
    req: Request<Incoming>,
    store: &Arc<Store>,
    replica: &str,
) -> Response<Full<Bytes>> {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &format!("body: {e}")),
    };
    let order: NewOrder = match serde_json::from_slice(&body) {
        Ok(o) => o,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("expected {{\"id\": N}}: {e}"),
            )
        }
    };
    let answer = |status, note: &str| {
        json_response(
            status,
            &serde_json::json!({"id": order.id, "replica": replica, "result": note}),
        )
    };
    match store.create(order.id).await {
        Created::New => answer(StatusCode::CREATED, "created"),
        Created::Exists => answer(StatusCode::OK, "exists"),
        Created::PrimaryLost => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the primary changed before the replicas confirmed",
        ),
        Created::Unavailable => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store's primary is in a lost zone",
        ),
    }
}

fn read(store: &Store, id: u64, replica: &str) -> Response<Full<Bytes>> {
    match store.read(id) {
        Some(true) => json_response(
            StatusCode::OK,
            &serde_json::json!({"id": id, "replica": replica}),
        ),
        Some(false) => error_response(StatusCode::NOT_FOUND, &format!("no order {id}")),
        None => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store's primary is in a lost zone",
        ),
    }
}
