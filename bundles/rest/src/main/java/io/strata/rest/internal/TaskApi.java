package io.strata.rest.internal;

import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import javax.ws.rs.DELETE;
import javax.ws.rs.GET;
import javax.ws.rs.HeaderParam;
import javax.ws.rs.POST;
import javax.ws.rs.Path;
import javax.ws.rs.PathParam;
import javax.ws.rs.Produces;
import javax.ws.rs.QueryParam;
import javax.ws.rs.core.Context;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.sse.OutboundSseEvent;
import javax.ws.rs.sse.Sse;
import javax.ws.rs.sse.SseEventSink;

/** Tasks (with a long poll on one task) and the event stream. */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
public final class TaskApi {
    /** The longest a request may wait for a task or events. */
    static final int MAX_WAIT_SECONDS = 60;
    private final Services s;
    private final TaskResults results;
    private final EventHub events;
    private final com.fasterxml.jackson.databind.ObjectMapper json = Json.mapper();

    TaskApi(Services services, TaskResults results, EventHub events) {
        this.s = services;
        this.results = results;
        this.events = events;
    }

    @GET
    @Path("tasks")
    @Allowed(Role.VIEWER)
    public List<TaskView> list() {
        List<TaskView> out = new ArrayList<>();
        for (TaskInfo t : s.tasks().list()) {
            out.add(results.view(t));
        }
        return out;
    }

    /**
     * One task; with {@code wait} (seconds, at most {@value #MAX_WAIT_SECONDS}) the answer
     * comes when the task ends or the time is up, whichever is first.
     */
    @GET
    @Path("tasks/{id}")
    @Allowed(Role.VIEWER)
    public TaskView task(@PathParam("id") String id, @QueryParam("wait") String wait) {
        Integer seconds = Params.integer("wait", wait);
        if (seconds == null || seconds <= 0) {
            return results.view(s.tasks().get(id));
        }
        return results.view(s.tasks().await(id, Duration.ofSeconds(Math.min(seconds, MAX_WAIT_SECONDS))));
    }

    @POST
    @Path("tasks/{id}/cancel")
    @Allowed(Role.OPERATOR)
    public TaskView cancel(@PathParam("id") String id) {
        return results.view(s.tasks().cancel(id));
    }

    @DELETE
    @Path("tasks/{id}")
    @Allowed(Role.OPERATOR)
    public TaskView cancelByDelete(@PathParam("id") String id) {
        TaskInfo t = s.tasks().get(id);
        return results.view(t.state() == TaskState.QUEUED || t.state() == TaskState.RUNNING ? s.tasks().cancel(id) : t);
    }

    /** What {@code GET /events} answers as JSON: the events and the number to ask after next. */
    public record EventPage(List<EventHub.Event> events, long last) {
    }

    /**
     * Events after {@code after} as JSON, waiting up to {@code wait} seconds for the first;
     * without {@code after}, none, with the current number to start from.
     */
    @GET
    @Path("events")
    @Allowed(Role.VIEWER)
    public EventPage poll(@QueryParam("after") String after, @QueryParam("wait") String wait)
            throws InterruptedException {
        Integer seconds = Params.integer("wait", wait);
        if (after == null || after.isEmpty()) {
            return new EventPage(List.of(), events.latest());
        }
        long from;
        try {
            from = Long.parseLong(after);
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("the parameter 'after' must be a whole number");
        }
        long ms = seconds == null ? 0 : Math.min(Math.max(0, seconds), MAX_WAIT_SECONDS) * 1000L;
        List<EventHub.Event> list = events.after(from, ms);
        return new EventPage(list, list.isEmpty() ? Math.max(from, 0) : list.get(list.size() - 1).seq());
    }

    /**
     * The same events as a server-sent event stream: each event's name is its type
     * ({@code task}, {@code datastore}, {@code resource}, {@code path}), its id the sequence
     * number, its data the event as JSON. {@code Last-Event-ID} resumes after that number.
     */
    @GET
    @Path("events")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @Allowed(Role.VIEWER)
    public void stream(@Context SseEventSink sink, @Context Sse sse, @HeaderParam("Last-Event-ID") String lastId)
            throws InterruptedException {
        Consumer<EventHub.Event>[] self = new Consumer[1];
        self[0] = e -> {
            if (sink.isClosed()) {
                events.unsubscribe(self[0]);
                return;
            }
            sink.send(outbound(sse, e)).whenComplete((r, err) -> {
                if (err != null) {
                    events.unsubscribe(self[0]);
                    sink.close();
                }
            });
        };
        if (lastId != null && lastId.matches("\\d{1,18}")) {
            for (EventHub.Event e : events.after(Long.parseLong(lastId), 0)) {
                sink.send(outbound(sse, e));
            }
        }
        events.subscribe(self[0]);
        sink.send(sse.newEventBuilder().comment("strata events, from " + events.latest()).build());
    }

    private OutboundSseEvent outbound(Sse sse, EventHub.Event e) {
        try {
            return sse.newEventBuilder().name(e.type()).id(Long.toString(e.seq()))
                    .data(String.class, json.writeValueAsString(e)).build();
        } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }
}
