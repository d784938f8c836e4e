package io.strata.nbd.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * Exports as named factory configurations {@code io.strata.export~<name>} with properties
 * {@code name}, {@code volume} ({@code datastore/volume}) and {@code readOnly}, visible with
 * {@code config:list} and saved by Karaf under etc/.
 */
final class CmExportStore implements ExportStore {
    static final String FACTORY_PID = "io.strata.export";
    private static final String ANY_LOCATION = "?";
    private final ConfigurationAdmin cm;

    CmExportStore(ConfigurationAdmin cm) {
        this.cm = requireNonNull(cm, "cm");
    }

    @Override
    public List<Saved> load() {
        List<Saved> out = new ArrayList<>();
        for (Configuration c : list("(service.factoryPid=" + FACTORY_PID + ")")) {
            Dictionary<String, Object> d = c.getProperties();
            if (d == null || !(d.get("name") instanceof String name) || !(d.get("volume") instanceof String vol)) {
                continue;
            }
            out.add(new Saved(name, vol, flag(d.get("readOnly")), flag(d.get("tlsRequired"))));
        }
        return out;
    }

    private static boolean flag(Object o) {
        return o instanceof Boolean b ? b : Boolean.parseBoolean(String.valueOf(o));
    }

    @Override
    public void save(Saved e) {
        try {
            Configuration c = cm.getFactoryConfiguration(FACTORY_PID, e.name(), ANY_LOCATION);
            Hashtable<String, Object> p = new Hashtable<>();
            p.put("name", e.name());
            p.put("volume", e.volume());
            p.put("readOnly", e.readOnly());
            p.put("tlsRequired", e.tlsRequired());
            c.update(p);
        } catch (IOException ex) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot save export " + e.name() + ": " + ex.getMessage(),
                    ex);
        }
    }

    @Override
    public void delete(String name) {
        for (Configuration c : list("(&(service.factoryPid=" + FACTORY_PID + ")(name=" + name + "))")) {
            try {
                c.delete();
            } catch (IOException | IllegalStateException ex) {
                throw new StorageException(ErrorCode.IO_ERROR, "cannot delete export configuration " + c.getPid()
                        + ": " + ex.getMessage(), ex);
            }
        }
    }

    private List<Configuration> list(String filter) {
        try {
            Configuration[] cs = cm.listConfigurations(filter);
            return cs == null ? List.of() : List.of(cs);
        } catch (IOException | InvalidSyntaxException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot read export configurations: " + e.getMessage(), e);
        }
    }
}
