//! One worker isolate: a `JsRuntime` restored from the startup snapshot,
//! with the worker's modules loaded and its fetch handler started.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use deno_core::error::CoreError;
use deno_core::v8;
use deno_core::{JsRuntime, PollEventLoopOptions, RuntimeOptions};
use deno_permissions::PermissionsContainer;

use super::loader::{evaluate_data_module, module_specifier, BundleLoader};
use super::snapshot;
use crate::ops::{self, RequestInbox, WorkerLogContext};
use crate::worker::WorkerVersion;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
  /// The worker's code failed to compile, link or run its top level. The
  /// message comes from V8 and names the module, line and column.
  #[error("{0}")]
  Script(String),
  #[error("internal error starting the isolate: {0}")]
  Internal(String),
}

impl From<CoreError> for StartError {
  fn from(error: CoreError) -> Self {
    StartError::Script(error.to_string())
  }
}

impl From<Box<deno_core::error::JsError>> for StartError {
  fn from(error: Box<deno_core::error::JsError>) -> Self {
    StartError::Script(error.to_string())
  }
}

/// A running worker isolate.
pub struct WorkerIsolate {
  runtime: JsRuntime,
}

impl WorkerIsolate {
  /// Creates an isolate from the snapshot, evaluates the worker's modules and
  /// starts its fetch handler, which then takes requests from `inbox`.
  pub async fn start(version: Arc<WorkerVersion>, inbox: RequestInbox) -> Result<Self, StartError> {
    let started = Instant::now();
    let mut runtime = JsRuntime::try_new(RuntimeOptions {
      module_loader: Some(Rc::new(BundleLoader::new(version.clone()))),
      extensions: ops::extensions(),
      startup_snapshot: Some(snapshot::RUNTIME_SNAPSHOT),
      residual_lazy_js_sources: snapshot::RESIDUAL_LAZY_JS,
      residual_lazy_esm_sources: snapshot::RESIDUAL_LAZY_ESM,
      custom_module_evaluation_cb: Some(Box::new(evaluate_data_module)),
      ..Default::default()
    })
    .map_err(|e| StartError::Internal(e.to_string()))?;
    {
      let state = runtime.op_state();
      let mut state = state.borrow_mut();
      state.put(inbox);
      state.put(WorkerLogContext { worker: version.name.clone() });
      state.put(outbound_permissions());
    }

    // Take the bridge's start function, and hide Deno's internals, before
    // any worker code runs.
    let start = runtime
      .execute_script("ext:ridge/start.js", "globalThis.__ridgeTakeStart()")
      .map_err(|e| StartError::Internal(e.to_string()))?;
    let start: v8::Global<v8::Function> = {
      deno_core::scope!(scope, &mut runtime);
      let local = v8::Local::new(scope, start);
      let function = v8::Local::<v8::Function>::try_from(local).map_err(|e| StartError::Internal(e.to_string()))?;
      v8::Global::new(scope, function)
    };

    let main = module_specifier(&version.bundle.main);
    let module_id = runtime.load_main_es_module(&main).await?;
    let evaluation = runtime.mod_evaluate(module_id);
    runtime.with_event_loop_future(evaluation, PollEventLoopOptions::default()).await?;
    let namespace = runtime.get_module_namespace(module_id)?;

    let env_json = serde_json::Value::Object(version.env.clone()).to_string();
    let args = {
      deno_core::scope!(scope, &mut runtime);
      let namespace: v8::Local<v8::Value> = v8::Local::new(scope, namespace).into();
      let env = v8::String::new(scope, &env_json).ok_or_else(|| StartError::Internal("env too large".into()))?;
      [v8::Global::new(scope, namespace), v8::Global::new(scope, v8::Local::<v8::Value>::from(env))]
    };
    runtime.call_with_args(&start, &args).await?;
    tracing::debug!(worker = %version.name, version = %version.id, elapsed_us = started.elapsed().as_micros() as u64, "isolate started");
    Ok(Self { runtime })
  }

  /// Serves requests until the inbox closes or the isolate fails (an error
  /// the worker's code could not catch). Either way the isolate is done.
  pub async fn run(mut self) -> Result<(), StartError> {
    self.runtime.run_event_loop(PollEventLoopOptions::default()).await?;
    Ok(())
  }
}

/// Permissions for Deno's fetch: outbound network is allowed; everything
/// else Deno could check (files, env, processes) has no API in a worker.
fn outbound_permissions() -> PermissionsContainer {
  use deno_permissions::{Permissions, RuntimePermissionDescriptorParser};
  let parser = Arc::new(RuntimePermissionDescriptorParser::new(sys_traits::impls::RealSys));
  PermissionsContainer::new(parser, Permissions::allow_all())
}
