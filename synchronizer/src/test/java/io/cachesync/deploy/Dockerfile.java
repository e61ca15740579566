package io.cachesync.deploy;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The repository's {@code Dockerfile}, read line by line as the tests need it: its stages and their
 * instructions (continuation lines joined, comments and the parser directive dropped).
 */
record Dockerfile(Path file, List<Stage> stages) {

  /** One instruction: its keyword in upper case and the rest of the line. */
  record Instruction(String keyword, String arguments) {

    /** The arguments of the exec form ({@code ["a", "b"]}). */
    List<String> execForm() {
      try {
        return new ObjectMapper().readValue(arguments, new TypeReference<List<String>>() {});
      } catch (IOException e) {
        throw new IllegalStateException("not in exec form: " + keyword + " " + arguments, e);
      }
    }

    /** The arguments split on white space, without leading {@code --flag=value} options. */
    List<String> words() {
      List<String> words = new ArrayList<>(List.of(arguments.trim().split("\\s+")));
      while (!words.isEmpty() && words.get(0).startsWith("--")) {
        words.remove(0);
      }
      return words;
    }

    /** The value of an option such as {@code --from=build}, if the instruction has it. */
    Optional<String> option(String name) {
      for (String word : arguments.trim().split("\\s+")) {
        if (word.startsWith("--" + name + "=")) {
          return Optional.of(word.substring(name.length() + 3));
        }
      }
      return Optional.empty();
    }
  }

  /** A build stage: {@code FROM image [AS name]} and what follows up to the next FROM. */
  record Stage(String image, String name, List<Instruction> instructions) {

    List<Instruction> all(String keyword) {
      return instructions.stream().filter(each -> each.keyword().equals(keyword)).toList();
    }

    /** The last instruction with the keyword (the one that counts for WORKDIR, USER, CMD...). */
    Instruction last(String keyword) {
      List<Instruction> all = all(keyword);
      if (all.isEmpty()) {
        throw new IllegalStateException("stage " + name + " has no " + keyword);
      }
      return all.get(all.size() - 1);
    }
  }

  static Dockerfile load(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Stage> stages = new ArrayList<>();
    StringBuilder pending = new StringBuilder();
    for (String line : lines) {
      String trimmed = line.strip();
      if (trimmed.startsWith("#") || (trimmed.isEmpty() && pending.length() == 0)) {
        continue;
      }
      if (trimmed.endsWith("\\")) {
        pending.append(trimmed, 0, trimmed.length() - 1).append(' ');
        continue;
      }
      pending.append(trimmed);
      add(stages, pending.toString().strip());
      pending.setLength(0);
    }
    return new Dockerfile(
        file,
        stages.stream()
            .map(each -> new Stage(each.image(), each.name(), List.copyOf(each.instructions())))
            .toList());
  }

  private static void add(List<Stage> stages, String line) {
    String[] parts = line.split("\\s+", 2);
    Instruction instruction =
        new Instruction(parts[0].toUpperCase(Locale.ROOT), parts.length > 1 ? parts[1] : "");
    if (instruction.keyword().equals("FROM")) {
      List<String> words = instruction.words();
      String name = words.size() == 3 && words.get(1).equalsIgnoreCase("AS") ? words.get(2) : "";
      stages.add(new Stage(words.get(0), name, new ArrayList<>()));
      return;
    }
    if (stages.isEmpty()) {
      throw new IllegalStateException("instruction before FROM: " + line);
    }
    stages.get(stages.size() - 1).instructions().add(instruction);
  }

  Stage stage(String name) {
    return stages.stream()
        .filter(each -> each.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalStateException(file + " has no stage " + name));
  }

  /** The stage the image is made of: the last one. */
  Stage finalStage() {
    return stages.get(stages.size() - 1);
  }
}
