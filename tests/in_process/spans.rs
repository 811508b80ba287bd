//! The `tracing` spans of a shutdown, seen by a real `tracing_subscriber` layer that records
//! every span (name, fields, parent, whether it closed) and every event (message, the span it
//! is in): one `shutdown` span over the sequence, a span per phase in it, a span per hook in
//! `hooks` with its outcome; the events inside them. And a subscriber that panics in every
//! span call does not stop the sequence.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use graceful::{Builder, Flavor, HookOutcome};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One span as the layer saw it.
#[derive(Clone, Debug, Default)]
struct SpanSeen {
    name: &'static str,
    target: String,
    fields: BTreeMap<String, String>,
    parent: Option<u64>,
    closed: bool,
}

/// One event: its message, and the span it was in.
#[derive(Clone, Debug)]
struct EventSeen {
    message: String,
    span: Option<u64>,
}

#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<BTreeMap<u64, SpanSeen>>>,
    events: Arc<Mutex<Vec<EventSeen>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut seen = SpanSeen {
            name: attrs.metadata().name(),
            target: attrs.metadata().target().to_owned(),
            ..SpanSeen::default()
        };
        attrs.record(&mut Fields(&mut seen.fields));
        seen.parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|parent| parent.id().into_u64());
        self.spans.lock().unwrap().insert(id.into_u64(), seen);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(seen) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        let span = ctx.event_span(event).map(|span| span.id().into_u64());
        self.events
            .lock()
            .unwrap()
            .push(EventSeen { message, span });
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        if let Some(seen) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            seen.closed = true;
        }
    }
}

impl Recorder {
    /// The one span named `name` whose field `field` is `value` (any, when `field` is empty).
    fn span(&self, name: &str, field: &str, value: &str) -> (u64, SpanSeen) {
        let spans = self.spans.lock().unwrap();
        let found: Vec<_> = spans
            .iter()
            .filter(|(_, seen)| {
                seen.name == name
                    && (field.is_empty()
                        || seen.fields.get(field).map(String::as_str) == Some(value))
            })
            .map(|(id, seen)| (*id, seen.clone()))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one span {name} {field}={value}: {spans:#?}"
        );
        found.into_iter().next().unwrap()
    }

    /// The span the first event `message` was in.
    fn span_of_event(&self, message: &str) -> Option<u64> {
        let events = self.events.lock().unwrap();
        let event = events.iter().find(|event| event.message == message);
        event
            .unwrap_or_else(|| panic!("no event {message:?}: {events:#?}"))
            .span
    }
}

/// Runs `f` with `subscriber` as this thread's default, every callsite asked again first.
///
/// `tracing` caches each callsite's interest for the whole process. The other tests of this
/// binary, on other threads and without a subscriber, reach graceful's spans too: a callsite
/// whose interest was being computed for them as this subscriber registered can stay cached
/// as "never", and its spans would be missing here. Asking every callsite again, with this
/// subscriber registered, settles it.
fn with_subscriber<T>(
    subscriber: impl Subscriber + Send + Sync + 'static,
    f: impl FnOnce() -> T,
) -> T {
    tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        f()
    })
}

#[test]
fn a_shutdown_is_one_trace_a_span_per_phase_and_per_hook() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let report = with_subscriber(subscriber, || {
        Builder::new()
            .signals([])
            .flavor(Flavor::CurrentThread)
            .run_to_report(|shutdown| async move {
                graceful::register(10, "flush", async {
                    tracing::info!("flushing");
                });
                graceful::register(10, "deregister", async { Err::<(), _>("refused") });
                graceful::register(20, "close", async {});
                shutdown.trigger();
            })
            .unwrap()
    });
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.hooks()[1].outcome(),
        &HookOutcome::Failed("refused".into())
    );

    let (shutdown, seen) = recorder.span("shutdown", "", "");
    assert_eq!(seen.target, "graceful");
    assert_eq!(seen.parent, None, "the root of its trace");
    assert_eq!(seen.fields["reason"], "triggered");
    assert_eq!(seen.fields["exit_code"], "1");
    assert_eq!(recorder.span_of_event("shutdown started"), Some(shutdown));

    for phase in ["delay", "drain", "hooks"] {
        let (_, seen) = recorder.span(phase, "", "");
        assert_eq!(seen.parent, Some(shutdown), "{phase} is in shutdown");
    }
    let (_, drain) = recorder.span("drain", "", "");
    assert_eq!(drain.fields["aborted"], "0");

    let (hooks, _) = recorder.span("hooks", "", "");
    let expected = [
        ("flush", "10", "ok"),
        ("deregister", "10", "failed: refused"),
        ("close", "20", "ok"),
    ];
    for (name, order, outcome) in expected {
        let (id, seen) = recorder.span("hook", "name", name);
        assert_eq!(seen.parent, Some(hooks), "{name} is in hooks");
        assert_eq!(seen.fields["order"], order);
        assert_eq!(seen.fields["outcome"], outcome, "{name}");
        assert!(seen.fields.contains_key("duration"), "{seen:?}");
        let ended: Vec<_> = recorder
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|event| event.span == Some(id))
            .map(|event| event.message.clone())
            .collect();
        assert!(
            ended.iter().any(|m| m == "hook started")
                && ended
                    .iter()
                    .any(|m| m == "hook ended" || m == "hook failed"),
            "{name}: {ended:?}"
        );
    }
    // The hook's own event is in the hook's span: the hook ran inside it.
    let (flush, _) = recorder.span("hook", "name", "flush");
    assert_eq!(recorder.span_of_event("flushing"), Some(flush));

    let spans = recorder.spans.lock().unwrap();
    let open: Vec<_> = spans.values().filter(|seen| !seen.closed).collect();
    assert!(open.is_empty(), "every span closed: {open:#?}");
}

/// A layer that panics in every call about spans (as `fmt` does when its writer is gone):
/// from their creation on, or (so that the spans exist) from their first enter on.
struct Panicking {
    at_creation: bool,
}

impl<S: Subscriber> Layer<S> for Panicking {
    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        if self.at_creation {
            panic!("subscriber: new span");
        }
    }

    fn on_record(&self, _: &Id, _: &Record<'_>, _: Context<'_, S>) {
        panic!("subscriber: record");
    }

    fn on_enter(&self, _: &Id, _: Context<'_, S>) {
        panic!("subscriber: enter");
    }

    fn on_exit(&self, _: &Id, _: Context<'_, S>) {
        panic!("subscriber: exit");
    }

    fn on_close(&self, _: Id, _: Context<'_, S>) {
        panic!("subscriber: close");
    }
}

#[test]
fn a_subscriber_that_panics_in_every_span_call_does_not_stop_the_sequence() {
    for at_creation in [true, false] {
        panicking_subscriber(at_creation);
    }
}

fn panicking_subscriber(at_creation: bool) {
    let subscriber = tracing_subscriber::registry().with(Panicking { at_creation });
    let report = with_subscriber(subscriber, || {
        Builder::new()
            .signals([])
            .flavor(Flavor::CurrentThread)
            .run_to_report(|shutdown| async move {
                graceful::register(10, "first", async {});
                graceful::register(10, "beside", async {});
                graceful::register(20, "second", async {});
                shutdown.trigger();
            })
            .unwrap()
    });
    let hooks: Vec<_> = report
        .hooks()
        .iter()
        .map(|hook| (hook.name(), hook.outcome().clone()))
        .collect();
    assert_eq!(
        hooks,
        [
            ("first", HookOutcome::Returned),
            ("beside", HookOutcome::Returned),
            ("second", HookOutcome::Returned)
        ]
    );
    assert_eq!(report.exit_code(), 0, "{report}");
}
