package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * What the mapping file of a raw device mapping volume holds: which device of which resource
 * the volume is, and the identity and size that device had when it was mapped. The file is a
 * small JSON document in the datastore, next to the images of the other volumes (VMware keeps
 * its RDM mapping files on VMFS the same way); the device's bytes are the volume's.
 *
 * @param resource the resource name
 * @param device the device id within it
 * @param identity the device's identity when mapped ({@code wwid:naa.…}), or empty when its
 *        driver reports none; a device whose identity differs is refused at open
 * @param size the device's size when mapped
 */
record RdmMapping(String resource, String device, String identity, long size) {
    /** The format type and file extension of mapping files. */
    static final String TYPE = "rdm";
    /** Mapping files are small; anything larger is not one. */
    static final int MAX_BYTES = 4096;
    private static final String MAGIC = "strata-rdm";
    private static final ObjectMapper JSON = new ObjectMapper();

    RdmMapping {
        requireNonNull(resource, "resource");
        requireNonNull(device, "device");
        requireNonNull(identity, "identity");
    }

    /** @return {@code resource/device} */
    String ref() {
        return resource + "/" + device;
    }

    byte[] encode() {
        ObjectNode n = JSON.createObjectNode();
        n.put(MAGIC, 1);
        n.put("resource", resource);
        n.put("device", device);
        n.put("identity", identity);
        n.put("size", size);
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n);
        } catch (IOException e) {
            throw new StorageException(ErrorCode.INTERNAL, "cannot encode a device mapping", e);
        }
    }

    /** Writes this mapping into a new, empty file and flushes it. */
    void writeTo(DatastoreFile file) {
        byte[] bytes = encode();
        file.write(ByteBuffer.wrap(bytes), 0);
        file.flush();
    }

    /**
     * @return the mapping a file holds
     * @throws StorageException {@code CORRUPT_IMAGE} when the file is not a mapping file
     */
    static RdmMapping read(DatastoreFile file) {
        long size = file.size();
        if (size <= 0 || size > MAX_BYTES) {
            throw corrupt(file, "it is " + size + " bytes long");
        }
        ByteBuffer b = ByteBuffer.allocate((int) size);
        while (b.hasRemaining()) {
            if (file.read(b, b.position()) < 0) {
                break;
            }
        }
        if (b.hasRemaining()) {
            throw corrupt(file, "it ends early");
        }
        JsonNode n;
        try {
            n = JSON.readTree(new String(b.array(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw corrupt(file, "it is not JSON");
        }
        if (n == null || !n.isObject() || n.path(MAGIC).asInt(0) != 1 || !n.path("resource").isTextual()
                || !n.path("device").isTextual() || !n.path("identity").isTextual() || !n.path("size").isIntegralNumber()) {
            throw corrupt(file, "it lacks the fields of version 1");
        }
        String resource = n.get("resource").asText();
        String device = n.get("device").asText();
        try {
            Names.check("resource", resource);
        } catch (StorageException e) {
            throw corrupt(file, e.getMessage());
        }
        if (device.isEmpty() || device.contains("/") || device.contains("..")
                || device.chars().anyMatch(Character::isISOControl) || n.get("size").asLong() <= 0) {
            throw corrupt(file, "its device or size is not valid");
        }
        return new RdmMapping(resource, device, n.get("identity").asText(), n.get("size").asLong());
    }

    private static StorageException corrupt(DatastoreFile file, String why) {
        return new StorageException(ErrorCode.CORRUPT_IMAGE,
                "file " + file.name() + " is not a device mapping: " + why);
    }
}
