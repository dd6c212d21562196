// The member view's shell in the browser (an anywidget ESM; the kernel side is shell.py).
// A click on a link to another page of the view (`<server>/twinspace/page/<id>`) sets the
// page's own address (history.pushState) and asks the kernel to show that page in place:
// the same kernel, no new Voila render. Back and Forward do the same. Every other link
// (a section without pages, a tool, another space, ?lang=, a download) loads as usual,
// and so does any page the kernel cannot show: the server then renders it or says why.
let uninstall = null; // one set of listeners per document, whatever re-renders the view

export default {
  render({ model, el }) {
    el.style.display = "none";
    if (uninstall) uninstall();
    const prefix = model.get("prefix");
    let seq = 0;
    let timer = null;
    history.scrollRestoration = "manual";

    // The page an address shows, or null when the browser should load it itself.
    const pageOf = (href) => {
      const url = new URL(href, location.href);
      if (url.origin !== location.origin || url.search || url.hash) return null;
      if (!url.pathname.startsWith(prefix)) return null;
      const rest = url.pathname.slice(prefix.length).replace(/\/$/, "");
      return /^[0-9]{1,10}$/.test(rest) ? Number(rest) : null;
    };
    // Screen readers hear the new page's title, as after a page load.
    let status = document.querySelector(".ts-shell-status");
    if (!status) {
      status = document.createElement("div");
      status.className = "ts-shell-status";
      status.setAttribute("role", "status");
      status.style.cssText = "position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden";
      document.body.appendChild(status);
    }
    const go = (page) => {
      seq += 1;
      document.body.setAttribute("aria-busy", "true");
      clearTimeout(timer);
      // No answer (the kernel died or was culled): the server renders the address.
      timer = setTimeout(() => location.reload(), model.get("timeout_ms"));
      model.send({ type: "show", page, seq });
    };
    const onClick = (event) => {
      if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
          event.shiftKey || event.altKey) return;
      const a = event.target.closest && event.target.closest("a[href]");
      if (!a || a.hasAttribute("download") ||
          (a.target && a.target !== "_self" && a.target !== "_top")) return;
      const page = pageOf(a.href);
      if (page === null) return;
      event.preventDefault();
      // Where the reader was on this page, for Back.
      history.replaceState({ ...(history.state || {}), scrollY: window.scrollY }, "");
      if (a.href !== location.href) history.pushState({ page }, "", a.href);
      go(page);
    };
    const onPop = () => {
      const page = pageOf(location.href);
      if (page === null) location.reload(); else go(page);
    };
    const onMessage = (msg) => {
      if (msg.seq !== seq) return; // an older click's answer: a newer one is on its way
      clearTimeout(timer);
      if (msg.type === "failed") { location.reload(); return; }
      if (msg.type !== "shown") return;
      // The first page's own cells, rendered by Voila after the shell's: the kernel has
      // closed their widgets; their text goes too.
      const cell = el.closest("[cell-index]");
      while (cell && cell.nextElementSibling) cell.nextElementSibling.remove();
      document.title = msg.title;
      document.body.dataset.tsPage = String(msg.page); // what tests and benches wait for
      document.body.removeAttribute("aria-busy");
      const content = document.querySelector(".ts-shell-content");
      const heading = content && content.querySelector("h1, h2");
      const target = heading || content;
      if (target) {
        target.setAttribute("tabindex", "-1");
        target.focus({ preventScroll: true });
      }
      window.scrollTo(0, (history.state && history.state.scrollY) || 0);
      status.textContent = msg.title;
    };
    document.addEventListener("click", onClick);
    window.addEventListener("popstate", onPop);
    model.on("msg:custom", onMessage);
    history.replaceState({ ...(history.state || {}), page: model.get("page") }, "");
    uninstall = () => {
      document.removeEventListener("click", onClick);
      window.removeEventListener("popstate", onPop);
      model.off("msg:custom", onMessage);
      clearTimeout(timer);
      uninstall = null;
    };
    return uninstall;
  },
};
