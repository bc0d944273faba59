import { fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { describe, expect, it } from "vitest";
import type { Route } from "../../../lib/releases";
import WeightsDialog from "./WeightsDialog.svelte";

// The dialog on its own: what it sends goes to the `save` it is given, which records it and
// answers as the server would (null: done; a message: refused).
function opened(answer: string | null = null) {
  const sent: [string, Route[]][] = [];
  const view = render(WeightsDialog, {
    ready: [3, 2, 1],
    save: async (alias: string, routes: Route[]) => {
      sent.push([alias, routes]);
      return answer;
    },
  });
  return { sent, dialog: view.component };
}

function field(label: string): HTMLInputElement {
  return screen.getByLabelText(label, { selector: "input, select" });
}

describe("the weights dialog", () => {
  it("makes an alias split between two versions once the weights sum to 100", async () => {
    const { sent, dialog } = opened();
    dialog.open(null);
    await tick();
    await fireEvent.input(field("Alias name"), { target: { value: "prod" } });
    await fireEvent.input(field("Weight of row 1"), { target: { value: "90" } });
    await fireEvent.click(screen.getByRole("button", { name: "Add a version" }));
    expect(field("Version of row 2").value).toBe("2"); // the newest not yet named
    expect(field("Weight of row 2").value).toBe("10"); // what is left of 100
    await fireEvent.input(field("Weight of row 2"), { target: { value: "5" } });
    expect(screen.getByText(/The weights sum to 95/)).toBeTruthy();
    const save = screen.getByRole("button", { name: "Save weights" }) as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    await fireEvent.input(field("Weight of row 2"), { target: { value: "10" } });
    expect(save.disabled).toBe(false);
    await fireEvent.click(save);
    await tick();
    expect(sent).toEqual([
      [
        "prod",
        [
          { version: 3, weight: 90 },
          { version: 2, weight: 10 },
        ],
      ],
    ]);
  });

  it("refuses latest as a new alias's name and shows the server's refusal", async () => {
    const { sent, dialog } = opened("version 2 is not ready");
    dialog.open(null);
    await tick();
    await fireEvent.input(field("Alias name"), { target: { value: "latest" } });
    expect(screen.getByText(/built in/)).toBeTruthy();
    await fireEvent.input(field("Alias name"), { target: { value: "beta" } });
    await fireEvent.click(screen.getByRole("button", { name: "Save weights" }));
    await tick();
    expect(sent).toHaveLength(1);
    expect(screen.getByRole("alert").textContent).toBe("version 2 is not ready");
  });

  it("edits an alias's routes newest first", async () => {
    const { dialog } = opened();
    dialog.open({
      name: "prod",
      builtin: false,
      routes: [
        { version: 1, weight: 70 },
        { version: 2, weight: 30 },
      ],
      updated_at: "2026-12-01T10:00:00Z",
      updated_by: "ann",
      release_id: null,
    });
    await tick();
    expect(screen.getByRole("heading").textContent).toBe("Weights of prod");
    expect(field("Version of row 1").value).toBe("2");
    expect(field("Weight of row 2").value).toBe("70");
  });
});
