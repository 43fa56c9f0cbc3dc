// The book's own script (issue 23); Jupyter Book loads every JS file of this folder on every page.
// Each figure of a cell output becomes a link to its PNG, so that a reader (on a phone, say) can
// open it at full size. No library, no network.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("div.cell_output img, figure img").forEach((img) => {
    if (img.closest("a") || !img.getAttribute("src")) return;
    const link = document.createElement("a");
    link.href = img.getAttribute("src");
    link.className = "sal-figure-link";
    link.title = "Open the figure at full size";
    img.replaceWith(link);
    link.appendChild(img);
  });
});
