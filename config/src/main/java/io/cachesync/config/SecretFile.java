package io.cachesync.config;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Optional;
import java.util.Set;

/**
 * A password read from a file ({@code postgres.passwordFile}, {@code redis.passwordFile}), as
 * Docker and Kubernetes secrets and systemd credentials provide them. The file holds the password
 * alone; one line end after it is not part of it. No problem or warning quotes what the file holds.
 */
final class SecretFile {
  private static final long MAX_BYTES = 4096;

  private SecretFile() {}

  /**
   * The password in the file named by {@code key}, a path relative to {@code directory} (the folder
   * of synchronizer.yml) unless absolute; empty, with the problem recorded, when it cannot be read.
   * A file others than its owner may read is read, with a warning.
   */
  static Optional<String> read(Section section, String key, Path directory) {
    Optional<String> name = section.text(key);
    if (name.isEmpty()) {
      return Optional.empty();
    }
    Path file;
    try {
      Path path = Path.of(name.get());
      file = ConfigurationLoader.resolve(directory, path);
    } catch (InvalidPathException e) {
      section.problem(key, "'" + name.get() + "' is not a file path: " + e.getReason());
      return Optional.empty();
    }
    byte[] bytes;
    try {
      if (Files.isDirectory(file)) {
        section.problem(key, file + " is a folder; name the file that holds the password");
        return Optional.empty();
      }
      if (Files.size(file) > MAX_BYTES) {
        section.problem(
            key,
            file
                + " holds more than "
                + MAX_BYTES
                + " bytes; it should hold the password alone (is it the right file?)");
        return Optional.empty();
      }
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      section.problem(
          key,
          file
              + " does not exist (looked for "
              + file.toAbsolutePath()
              + "); create it with the password alone in it, or point "
              + key
              + " at it");
      return Optional.empty();
    } catch (AccessDeniedException e) {
      section.problem(
          key,
          file
              + " cannot be read by this user ("
              + System.getProperty("user.name")
              + "); give the user that runs cachesync read access (chown, or chmod 640 with its"
              + " group)");
      return Optional.empty();
    } catch (IOException e) {
      section.problem(key, file + " cannot be read: " + e.getMessage());
      return Optional.empty();
    }
    Optional<String> password = password(section, key, file, bytes);
    password.ifPresent(p -> warnIfOthersMayRead(section, key, file));
    return password;
  }

  private static Optional<String> password(Section section, String key, Path file, byte[] bytes) {
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes))
              .toString();
    } catch (CharacterCodingException e) {
      section.problem(key, file + " is not UTF-8 text; write the password in UTF-8");
      return Optional.empty();
    }
    if (text.endsWith("\r\n")) {
      text = text.substring(0, text.length() - 2);
    } else if (text.endsWith("\n")) {
      text = text.substring(0, text.length() - 1);
    }
    if (text.isEmpty()) {
      section.problem(key, file + " is empty; write the password in it");
      return Optional.empty();
    }
    if (text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0) {
      section.problem(
          key,
          file
              + " holds more than one line; it should hold the password alone (one line end"
              + " after it is allowed)");
      return Optional.empty();
    }
    return Optional.of(text);
  }

  private static void warnIfOthersMayRead(Section section, String key, Path file) {
    Set<PosixFilePermission> permissions;
    try {
      permissions = Files.getPosixFilePermissions(file);
    } catch (UnsupportedOperationException | IOException e) {
      return; // not a POSIX file system: nothing to say about its modes
    }
    boolean group = permissions.contains(PosixFilePermission.GROUP_READ);
    boolean others = permissions.contains(PosixFilePermission.OTHERS_READ);
    if (!group && !others) {
      return;
    }
    section.warning(
        key,
        file
            + " may be read by "
            + (group && others ? "its group and every user" : group ? "its group" : "every user")
            + " (mode "
            + mode(permissions)
            + "); restrict it to the user that runs cachesync: chmod 600 "
            + file);
  }

  private static String mode(Set<PosixFilePermission> permissions) {
    int mode = 0;
    for (PosixFilePermission permission : permissions) {
      mode |= 1 << (8 - permission.ordinal());
    }
    return String.format("%04o", mode);
  }
}
