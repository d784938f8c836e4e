package io.strata.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.device.DeviceState;
import io.strata.api.device.PathInfo;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import io.strata.api.service.ExportService;
import io.strata.api.service.HostService;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourcePath;
import io.strata.api.service.ResourceService;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskService;
import io.strata.api.service.TaskState;
import io.strata.api.service.VolumeIoService;
import io.strata.api.service.VolumeService;
import java.lang.reflect.Proxy;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The event hub: what management software hears when a datastore, resource, path or task changes state. */
class EventHubTest {
    private final List<DatastoreInfo> datastores = new CopyOnWriteArrayList<>();
    private final List<ResourceInfo> resources = new CopyOnWriteArrayList<>();
    private final List<ResourcePath> paths = new CopyOnWriteArrayList<>();
    private final List<TaskInfo> tasks = new CopyOnWriteArrayList<>();
    private EventHub hub;

    @SuppressWarnings("unchecked")
    private <T> T fake(Class<T> type) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (proxy, method, args) -> {
            switch (method.getName()) {
                case "list":
                    return type == TaskService.class ? new ArrayList<>(tasks) : new ArrayList<>(datastores);
                case "resources":
                    return new ArrayList<>(resources);
                case "paths":
                    return new ArrayList<>(paths);
                default:
                    throw new UnsupportedOperationException(method.getName());
            }
        });
    }

    @BeforeEach
    void setUp() {
        datastores.add(datastore("ds1", Availability.ONLINE, ""));
        resources.add(new ResourceInfo("lun", "iscsi", Map.of(), Availability.ONLINE, ""));
        paths.add(path("p1", DeviceState.ONLINE));
        paths.add(path("p2", DeviceState.ONLINE));
        Services s = new Services(fake(ResourceService.class), fake(DatastoreService.class),
                fake(VolumeService.class), fake(SnapshotService.class), fake(TaskService.class),
                fake(HostService.class), fake(VolumeIoService.class), () -> (ExportService) null);
        // A period of an hour: the test compares by hand, the poller never does.
        hub = new EventHub(s, Clock.systemUTC(), 3_600_000);
    }

    @AfterEach
    void tearDown() {
        hub.close();
    }

    private static DatastoreInfo datastore(String name, Availability state, String message) {
        return new DatastoreInfo(name, "vims", "lun/0", state, message, 0, 0, 0, 0, 0, "", Map.of(), Map.of());
    }

    private static ResourcePath path(String id, DeviceState state) {
        return new ResourcePath("lun", new PathInfo("0", id, "iscsi", state, true, id.equals("p1"), 0, 0, 0));
    }

    @Test
    void aStateChangeIsAnEventWithItsPreviousStateAndNothingElseIs() throws Exception {
        long start = hub.latest();
        hub.compare();
        assertEquals(List.of(), hub.after(start, 0), "no change, no event");

        datastores.set(0, datastore("ds1", Availability.UNAVAILABLE, "DEVICE_UNAVAILABLE: no path"));
        paths.set(1, path("p2", DeviceState.OFFLINE));
        tasks.add(new TaskInfo("task-1", "snapshot-delete", "ds1/vm@s", TaskState.RUNNING, 0.5, "",
                Instant.now(), null));
        hub.compare();

        List<EventHub.Event> events = hub.after(start, 0);
        assertEquals(3, events.size(), events.toString());
        EventHub.Event ds = find(events, "datastore");
        assertEquals("ds1", ds.id());
        assertEquals("UNAVAILABLE", ds.state());
        assertEquals("ONLINE", ds.previous());
        assertEquals("DEVICE_UNAVAILABLE: no path", ds.message());
        EventHub.Event p = find(events, "path");
        assertEquals("lun/0/p2", p.id());
        assertEquals("OFFLINE", p.state());
        assertEquals("ONLINE", p.previous());
        EventHub.Event t = find(events, "task");
        assertEquals("task-1", t.id());
        assertEquals("RUNNING", t.state());
        assertEquals(null, t.previous());
        // numbered in order, and asking after one gives only the later ones
        assertEquals(List.of(events.get(1), events.get(2)), hub.after(events.get(0).seq(), 0));

        tasks.set(0, new TaskInfo("task-1", "snapshot-delete", "ds1/vm@s", TaskState.SUCCEEDED, 1, "done",
                Instant.now(), Instant.now()));
        datastores.clear();
        hub.compare();
        List<EventHub.Event> later = hub.after(events.get(2).seq(), 0);
        assertEquals(2, later.size(), later.toString());
        assertEquals("SUCCEEDED", find(later, "task").state());
        assertEquals("REMOVED", find(later, "datastore").state());
    }

    @Test
    void aLongPollWaitsForTheNextChangeAndListenersHearIt() throws Exception {
        long start = hub.latest();
        List<EventHub.Event> heard = new CopyOnWriteArrayList<>();
        hub.subscribe(heard::add);
        hub.subscribe(e -> {
            throw new IllegalStateException("a broken listener is dropped, the others still hear");
        });
        Thread changer = new Thread(() -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
            resources.set(0, new ResourceInfo("lun", "iscsi", Map.of(), Availability.UNAVAILABLE, "login failed"));
            hub.compare();
        });
        changer.start();
        List<EventHub.Event> got = hub.after(start, 30_000);
        changer.join();
        assertEquals(1, got.size(), got.toString());
        assertEquals("resource", got.get(0).type());
        assertEquals("UNAVAILABLE", got.get(0).state());
        assertEquals(got, heard);
        // a second change still reaches the working listener
        resources.set(0, new ResourceInfo("lun", "iscsi", Map.of(), Availability.ONLINE, ""));
        hub.compare();
        assertEquals(2, heard.size());
    }

    @Test
    void onlyTheNewestEventsAreKept() throws Exception {
        long start = hub.latest();
        for (int i = 0; i < EventHub.KEEP + 10; i++) {
            datastores.set(0, datastore("ds1", i % 2 == 0 ? Availability.UNAVAILABLE : Availability.ONLINE, ""));
            hub.compare();
        }
        List<EventHub.Event> kept = hub.after(start, 0);
        assertEquals(EventHub.KEEP, kept.size());
        assertEquals(start + 11, kept.get(0).seq(), "the oldest ten are gone");
        assertTrue(kept.get(kept.size() - 1).seq() == start + EventHub.KEEP + 10);
    }

    private static EventHub.Event find(List<EventHub.Event> events, String type) {
        return events.stream().filter(e -> e.type().equals(type)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + type + " event in " + events));
    }
}
