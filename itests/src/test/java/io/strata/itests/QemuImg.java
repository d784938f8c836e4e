package io.strata.itests;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What {@code qemu-img info} says about an image, as an independent check of Strata's files. */
final class QemuImg {
    private static final Pattern VIRTUAL_SIZE = Pattern.compile("\"virtual-size\"\\s*:\\s*(\\d+)");

    private QemuImg() {
    }

    /**
     * @param strataFormat Strata's format name ({@code vhd}, {@code raw}); qemu is told the
     *        format because it probes VHD only by a footer copy at offset 0, which a fixed
     *        VHD does not have (it would call it raw, 512 bytes larger)
     * @return the virtual size qemu-img reports (-U: no lock needed)
     */
    static long virtualSize(Path image, String strataFormat) throws IOException, InterruptedException {
        Matcher m = VIRTUAL_SIZE.matcher(info(image, strataFormat));
        if (!m.find()) {
            throw new IOException("qemu-img info printed no virtual-size for " + image);
        }
        return Long.parseLong(m.group(1));
    }

    private static String info(Path image, String strataFormat) throws IOException, InterruptedException {
        String format = "vhd".equals(strataFormat) ? "vpc" : strataFormat;
        return HostTools.run(List.of("qemu-img", "info", "-U", "-f", format, "--output=json", image.toString()));
    }
}
