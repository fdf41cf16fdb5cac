//! The admin API's Durable Object calls (`ridge do`): the objects this
//! node stores.
//!
//! | call | does |
//! | --- | --- |
//! | `GET /workers/{name}/objects/{class}` | its stored objects: id, bytes, alarm |
//! | `DELETE /workers/{name}/objects/{class}/{id}` | delete one: storage and alarm (404 if none) |
//!
//! A deleted object that is in memory is dropped before its next event;
//! the next call makes a new one on empty storage.

use http::{Response, StatusCode};
use serde_json::json;

use super::admin::{error, json_response, AdminApi};
use super::body::WireBody;
use ridge_objects::StorageError;

fn objects_error(failure: StorageError) -> Response<WireBody> {
    match failure {
        StorageError::InvalidId
        | StorageError::InvalidClass(_)
        | StorageError::InvalidWorker(_) => error(StatusCode::BAD_REQUEST, failure),
        failure => {
            tracing::error!(error = %failure, "admin API Durable Object failure");
            error(StatusCode::INTERNAL_SERVER_ERROR, failure)
        }
    }
}

impl AdminApi {
    pub(super) fn list_objects(&self, worker: &str, class: &str) -> Response<WireBody> {
        match self.objects.list(worker, class) {
            Ok(objects) => json_response(
                StatusCode::OK,
                json!({ "worker": worker, "class": class, "objects": objects }),
            ),
            Err(failure) => objects_error(failure),
        }
    }

    pub(super) fn delete_object(&self, worker: &str, class: &str, id: &str) -> Response<WireBody> {
        match self.objects.delete(worker, class, id) {
            Ok(true) => json_response(
                StatusCode::OK,
                json!({ "worker": worker, "class": class, "deleted": id }),
            ),
            Ok(false) => error(
                StatusCode::NOT_FOUND,
                format!("worker {worker} stores no {class} object with id {id}"),
            ),
            Err(failure) => objects_error(failure),
        }
    }
}
