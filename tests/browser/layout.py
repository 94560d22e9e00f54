"""What a person sees of a page's layout, measured in the browser: text that runs out of its box
or off the screen, and values broken over several lines."""

# Every element of `root` that is visible: one that ends past the right edge of the box holding
# it (or of the screen), or whose own text is wider than it without being cut with "…" on
# purpose. Inputs scroll their value by design; a <pre> of code scrolls sideways by design.
OVERFLOWING = """(root) => {
  const screen = document.documentElement.clientWidth;
  const describe = (el, why) => {
    const id = el.id ? '#' + el.id : '';
    const name = typeof el.className === 'string' ? el.className.trim() : '';
    const cls = name ? '.' + name.split(/\\s+/).join('.') : '';
    const text = (el.textContent || el.value || '').trim().slice(0, 40);
    return `${el.tagName.toLowerCase()}${id}${cls} "${text}": ${why}`;
  };
  const isBox = (el) => !['inline', 'contents'].includes(getComputedStyle(el).display);
  const cuts = (el) => getComputedStyle(el).textOverflow === 'ellipsis';
  const found = [];
  for (const el of document.querySelectorAll(root + ', ' + root + ' *')) {
    const style = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || (r.width === 0 && r.height === 0)) continue;
    if (el.closest('.visually-hidden, [hidden], option, pre')) continue;
    if (r.right > screen + 1 || r.left < -1) {
      const where = `${Math.round(r.left)}..${Math.round(r.right)} of ${screen}`;
      found.push(describe(el, `off the screen (${where})`));
      continue;
    }
    let box = el.parentElement;
    while (box && !isBox(box)) box = box.parentElement;
    const edge = box ? box.getBoundingClientRect().right : screen;
    if (box && !cuts(box) && r.right > edge + 1) {
      found.push(describe(el, `past its box's right edge by ${Math.round(r.right - edge)} px`));
      continue;
    }
    if (['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName) || !isBox(el) || cuts(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      found.push(describe(el, `content ${el.scrollWidth} px wide in ${el.clientWidth} px`));
    }
  }
  return found;
}"""

# Inline elements (codes, times, links) drawn over more than one line: broken mid-value.
BROKEN = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter((el) => el.getClientRects().length > 1)
  .map((el) => el.textContent.trim())"""


def overflowing(page, root="body"):
    return page.evaluate(OVERFLOWING, root)


def broken_over_lines(page, selector):
    return page.evaluate(BROKEN, selector)


def box(page, selector):
    """The element's box on the screen: {x, y, width, height}."""
    return page.locator(selector).first.bounding_box()
