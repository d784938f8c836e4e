package io.strata.vhd.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.fs.DatastoreFile;
import io.strata.testing.MemoryFile;
import java.util.HashMap;
import java.util.Map;

/** A flat namespace of in-memory files with a resolver over it, as a datastore gives one to a format. */
final class MemoryStore implements BackingResolver {
    private final Map<String, MemoryFile> files = new HashMap<>();
    int opened;

    MemoryFile create(String name) {
        MemoryFile f = new MemoryFile(name);
        files.put(name, f);
        return f;
    }

    MemoryFile get(String name) {
        return files.get(name);
    }

    void put(String name, MemoryFile f) {
        files.put(name, f);
    }

    void remove(String name) {
        files.remove(name);
    }

    /** Parents are opened read-only; the copy is taken once per open, which is fine for parents that do not change. */
    @Override
    public DatastoreFile openBacking(String fileName) {
        MemoryFile f = files.get(fileName);
        if (f == null) {
            throw new StorageException(ErrorCode.CHAIN_BROKEN, "no file '" + fileName + "'");
        }
        opened++;
        return f.readOnlyCopy();
    }
}
