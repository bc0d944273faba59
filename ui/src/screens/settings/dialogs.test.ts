import { fireEvent, render, screen } from "@testing-library/svelte";
import { flushSync } from "svelte";
import { describe, expect, it } from "vitest";
import Confirm from "./Confirm.svelte";
import NewKey from "./NewKey.svelte";

const SECRET = "sl_0123abcd_not-a-real-key-but-shaped-like-one";

describe("a new key's dialog", () => {
  it("shows the secret once, copies it, and forgets it when closed", async () => {
    const { component, container } = render(NewKey);
    flushSync(() => component.show("ci", SECRET));
    const dialog = screen.getByRole("dialog", { name: "Your new key ci" });
    expect(dialog.textContent).toContain(SECRET);
    expect(dialog.textContent).toContain("only time it is shown");

    await fireEvent.click(screen.getByRole("button", { name: "Copy" }));
    await expect.poll(() => screen.getByRole("status").textContent).toBe("Copied");
    expect(await navigator.clipboard.readText()).toBe(SECRET);

    await fireEvent.click(screen.getByRole("button", { name: "Close" }));
    (dialog as HTMLDialogElement).close(); // a form's method=dialog, where the DOM lacks it
    flushSync();
    expect(container.innerHTML).not.toContain(SECRET);
  });
});

describe("a new key's dialog, for the AWS tools", () => {
  it("shows the key as a credentials profile and copies it", async () => {
    const { component, container } = render(NewKey);
    flushSync(() =>
      component.show("ci", SECRET, { access: "sl_0123abcd", region: "eu-west-1" }),
    );
    const profile = container.querySelector("[data-aws-profile]");
    expect(profile?.textContent).toBe(
      `[sandlot]\naws_access_key_id = sl_0123abcd\naws_secret_access_key = ${SECRET}\n`,
    );
    expect(container.textContent).toContain("region = eu-west-1");
    expect(container.querySelector("[data-aws-command]")?.textContent).toContain(
      "--endpoint-url",
    );
    await fireEvent.click(screen.getByRole("button", { name: "AWS profile to clipboard" }));
    await expect.poll(() => screen.getByRole("status").textContent).toBe("Copied the profile");
    expect(await navigator.clipboard.readText()).toContain("aws_access_key_id = sl_0123abcd");
  });
});

describe("the confirmation dialog", () => {
  it("says yes only on its confirming button", async () => {
    const { component } = render(Confirm);
    let answer: Promise<boolean> = Promise.resolve(true);
    flushSync(() => {
      answer = component.ask({ title: "Revoke ci?", message: "It stops.", action: "Revoke" });
    });
    const dialog = screen.getByRole("dialog", { name: "Revoke ci?" }) as HTMLDialogElement;
    // What its buttons do: a method=dialog form closes it with the button's value.
    dialog.close("no");
    expect(await answer).toBe(false);

    flushSync(() => {
      answer = component.ask({ title: "Revoke ci?", message: "It stops.", action: "Revoke" });
    });
    dialog.close("yes");
    expect(await answer).toBe(true);
  });

  it("says no when closed without a choice (Esc)", async () => {
    const { component } = render(Confirm);
    let answer: Promise<boolean> = Promise.resolve(true);
    flushSync(() => {
      answer = component.ask({ title: "Delete X?", message: "Gone.", action: "Delete" });
    });
    (screen.getByRole("dialog", { name: "Delete X?" }) as HTMLDialogElement).close();
    expect(await answer).toBe(false);
  });
});
