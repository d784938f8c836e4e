package io.strata.nbd.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.ExportInfo;
import io.strata.api.service.ExportService;
import io.strata.api.service.PluginInfo;
import io.strata.api.service.PluginKind;
import io.strata.api.service.ResourceService;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NBD server as a DS component: {@link ExportService} over the core's volume
 * services, exports saved in Configuration Admin, listening where PID {@code io.strata.nbd}
 * says (127.0.0.1:10809 by default). A changed configuration restarts the server (DS
 * reactivates the component); clients reconnect, as NBD clients do.
 */
@Component(service = ExportService.class, configurationPid = "io.strata.nbd", immediate = true)
@Designate(ocd = NbdConfig.class)
public final class NbdComponent implements ExportService {
    private static final Logger LOG = LoggerFactory.getLogger(NbdComponent.class);
    private final NbdService nbd;

    @Activate
    public NbdComponent(@Reference VolumeService volumes, @Reference ResourceService resources,
            @Reference ConfigurationAdmin cm, NbdConfig config) throws IOException {
        requireNonNull(volumes, "volumes");
        requireNonNull(resources, "resources");
        Volumes v = new Volumes() {
            @Override
            public VirtualDisk open(VolumeRef ref, boolean readOnly) {
                return volumes.open(ref, readOnly);
            }

            @Override
            public boolean fastZero(VolumeRef ref) {
                String format = volumes.info(ref).format();
                for (PluginInfo p : resources.plugins()) {
                    if (p.kind() == PluginKind.FORMAT && p.type().equals(format)) {
                        return p.capabilities().contains(Capability.TRIM);
                    }
                }
                return false;
            }
        };
        try {
            nbd = new NbdService(v, new CmExportStore(cm), config.address(), config.port(),
                    Math.max(1, config.handshake_timeout_seconds()), config.sendfile(),
                    new NbdService.Limits(Math.max(1, config.max_connections()),
                            Math.max(0, config.memory_max_mb()) * (1L << 20),
                            Math.max(0, config.memory_connection_mb()) * (1L << 20)),
                    localSocket(config), tls(config));
            nbd.receiveInPlace(config.receive_in_place());
            nbd.pollMicros(config.poll_us());
            nbd.sendOverlap(config.send_overlap());
            nbd.localCongestion(config.tcp_congestion_local());
        } catch (IOException e) {
            LOG.error("nbd: {}", e.getMessage());
            throw e;
        }
    }

    /**
     * The TLS the configuration asks for. Certificates that cannot be loaded fail the start:
     * the server does not serve in clear text what it was told to protect.
     */
    static Tls tls(NbdConfig config) throws IOException {
        Tls.Mode mode;
        try {
            mode = Tls.Mode.parse(config.tls());
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
        String dir = config.tls_dir() == null ? "" : config.tls_dir().strip();
        Path p = dir.isEmpty() ? Path.of(System.getProperty("karaf.etc", "etc"), "nbd-tls") : Path.of(dir);
        return Tls.load(mode, p, config.tls_verify_peer());
    }

    /** The Unix domain socket the configuration asks for, or null ('off', or a bad mode: logged). */
    static LocalSocket localSocket(NbdConfig config) {
        String path = config.socket() == null ? "" : config.socket().strip();
        if (path.equalsIgnoreCase("off")) {
            return null;
        }
        Path p = path.isEmpty() ? Path.of(System.getProperty("karaf.data", "data"), "strata", "nbd.sock")
                : Path.of(path);
        try {
            return new LocalSocket(p.toAbsolutePath(), LocalSocket.mode(config.socket_mode()),
                    config.socket_group() == null ? "" : config.socket_group().strip());
        } catch (IllegalArgumentException e) {
            LOG.error("nbd: no Unix domain socket: {}", e.getMessage());
            return null;
        }
    }

    @Deactivate
    void deactivate() {
        nbd.close();
    }

    @Override
    public ExportInfo add(VolumeRef volume, String name, boolean readOnly) {
        return nbd.add(volume, name, readOnly);
    }

    @Override
    public ExportInfo add(VolumeRef volume, String name, boolean readOnly, boolean tlsRequired) {
        return nbd.add(volume, name, readOnly, tlsRequired);
    }

    @Override
    public List<ExportInfo> list() {
        return nbd.list();
    }

    @Override
    public ExportInfo info(String name) {
        return nbd.info(name);
    }

    @Override
    public void remove(String name, boolean force) {
        if (name == null) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "no export name given");
        }
        nbd.remove(name, force);
    }
}
