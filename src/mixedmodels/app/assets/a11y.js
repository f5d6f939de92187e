// Accessible names for Dash sliders: the thumb (role="slider") and its number field get
// the label of the control around them (data-label), so screen readers and keyboard users
// know which slider has focus.
(function () {
    function label() {
        document.querySelectorAll("[data-label]").forEach(function (box) {
            var name = box.getAttribute("data-label");
            box.querySelectorAll('[role="slider"]').forEach(function (thumb) {
                if (thumb.getAttribute("aria-label") !== name) {
                    thumb.setAttribute("aria-label", name);
                }
            });
            box.querySelectorAll("input").forEach(function (field) {
                if (field.getAttribute("aria-label") !== name + " (value)") {
                    field.setAttribute("aria-label", name + " (value)");
                }
            });
        });
    }
    new MutationObserver(label).observe(document.documentElement, {
        childList: true,
        subtree: true,
    });
    document.addEventListener("DOMContentLoaded", label);
})();
