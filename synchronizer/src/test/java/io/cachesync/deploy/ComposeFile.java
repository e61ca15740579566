package io.cachesync.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The repository's {@code docker-compose.yml}, read as the tests need it: each service's command,
 * environment, volumes, health check and dependencies. {@code ${VAR:-default}} takes its default
 * (the demo's values), whatever the environment of the test says.
 */
record ComposeFile(Path file, JsonNode root) {
  private static final Pattern VARIABLE = Pattern.compile("\\$\\{(\\w+)(?::?-([^}]*))?}");

  static ComposeFile load(Path file) {
    try {
      return new ComposeFile(file, new ObjectMapper(new YAMLFactory()).readTree(file.toFile()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  List<String> serviceNames() {
    List<String> names = new ArrayList<>();
    root.path("services").fieldNames().forEachRemaining(names::add);
    return names;
  }

  Service service(String name) {
    JsonNode node = root.path("services").path(name);
    if (node.isMissingNode()) {
      throw new IllegalArgumentException(file + " has no service " + name);
    }
    return new Service(name, node, file.getParent());
  }

  /** One service of the file. */
  record Service(String name, JsonNode node, Path directory) {

    /** The command as its arguments (a string command is one argument: the tests use lists). */
    List<String> command() {
      return strings(node.path("command"));
    }

    /** The environment, in either of compose's two forms, with variables resolved. */
    Map<String, String> environment() {
      Map<String, String> environment = new LinkedHashMap<>();
      JsonNode node = this.node.path("environment");
      if (node.isArray()) {
        for (JsonNode entry : node) {
          String[] parts = entry.asText().split("=", 2);
          environment.put(parts[0], resolve(parts.length == 2 ? parts[1] : ""));
        }
      } else {
        node.fields()
            .forEachRemaining(
                field -> environment.put(field.getKey(), resolve(field.getValue().asText())));
      }
      return environment;
    }

    /** Bind mounts in the short syntax {@code source:target[:ro]}, sources made absolute. */
    List<Volume> volumes() {
      List<Volume> volumes = new ArrayList<>();
      for (JsonNode entry : node.path("volumes")) {
        String[] parts = entry.asText().split(":");
        volumes.add(
            new Volume(
                directory.resolve(parts[0]).normalize(),
                parts[1],
                parts.length > 2 && parts[2].equals("ro")));
      }
      return volumes;
    }

    /** The health check's {@code test}: {@code CMD} or {@code CMD-SHELL} and its arguments. */
    List<String> healthcheck() {
      return strings(node.path("healthcheck").path("test"));
    }

    /** The services this one waits for, and the condition of each. */
    Map<String, String> dependsOn() {
      Map<String, String> conditions = new LinkedHashMap<>();
      JsonNode node = this.node.path("depends_on");
      if (node.isArray()) {
        node.forEach(each -> conditions.put(each.asText(), "service_started"));
      } else {
        node.fields()
            .forEachRemaining(
                field ->
                    conditions.put(
                        field.getKey(),
                        field.getValue().path("condition").asText("service_started")));
      }
      return conditions;
    }

    /** Published ports as written ({@code [ip:]host:container}). */
    List<String> ports() {
      return strings(node.path("ports"));
    }

    private static List<String> strings(JsonNode node) {
      if (node.isMissingNode() || node.isNull()) {
        return List.of();
      }
      if (!node.isArray()) {
        return List.of(resolve(node.asText()));
      }
      List<String> strings = new ArrayList<>();
      node.forEach(each -> strings.add(resolve(each.asText())));
      return strings;
    }
  }

  /** A bind mount. */
  record Volume(Path source, String target, boolean readOnly) {}

  /** {@code ${VAR:-default}} and {@code ${VAR-default}} as their default, {@code ${VAR}} empty. */
  static String resolve(String value) {
    Matcher matcher = VARIABLE.matcher(value);
    StringBuilder resolved = new StringBuilder();
    while (matcher.find()) {
      String fallback = matcher.group(2) == null ? "" : matcher.group(2);
      matcher.appendReplacement(resolved, Matcher.quoteReplacement(fallback));
    }
    matcher.appendTail(resolved);
    return resolved.toString();
  }
}
