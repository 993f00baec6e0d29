"""The app's page style and its one piece of browser-side script (the Before/After view switch).

Layout rules, by screen width:

* wide (≥ 1000 px): two columns; the photo column is ``position: sticky`` so the result stays in
  view while the slider column scrolls;
* narrow: the columns stack, the photo first, above the controls.

The view switch (After / Before / Side by side) runs in the browser only: it sets ``data-view`` on the
images row and CSS shows the chosen image(s); no request, no re-sent photo.
"""
from __future__ import annotations

#: Width from which the photo column sticks beside the controls.
WIDE_PX = 1000

CSS = f"""
/* Gradio's container clips with overflow: hidden, which makes it the scroll box of a sticky child
   (the photo would never stick); clip paints the same without being a scroll box. */
.gradio-container {{overflow: clip !important;}}
.le-hold {{min-width: 70px !important; max-width: 90px;}}
#le-status {{font-size: 0.9em; min-height: 1.5em; align-self: center;}}
#le-status p {{margin: 0;}}
#le-title h3 {{margin: 0 0 0.2em 0;}}
#le-model p {{margin: 0.1em 0; font-size: 0.92em;}}
.le-msg {{font-size: 0.92em;}}
.le-error {{color: var(--error-text-color, #b91c1c); font-weight: 600;}}
#le-images {{flex-wrap: nowrap; gap: 8px;}}
#le-images > div {{min-width: 0 !important;}}
#le-images img {{width: 100%; height: 100%; object-fit: contain;}}
#le-images:not([data-view="before"]):not([data-view="side"]) #le-before {{display: none !important;}}
#le-images[data-view="before"] #le-after {{display: none !important;}}
#le-face-thumb img {{object-fit: contain;}}
@media (min-width: {WIDE_PX}px) {{
  #le-image-col {{position: sticky; top: 8px; align-self: flex-start; z-index: 2;}}
  #le-images .image-container, #le-images .image-frame, #le-images .empty {{
    height: calc(100vh - 250px) !important; max-height: calc(100vh - 250px);}}
}}
@media (max-width: {WIDE_PX - 1}px) {{
  #le-images .image-container, #le-images .image-frame, #le-images .empty {{
    height: 55vh !important; max-height: 55vh;}}
}}
"""

#: The view switch: ``(view) -> view``, run in the browser on the View radio's change.
VIEW_JS = """(view) => {
  const row = document.querySelector('#le-images');
  if (row) row.dataset.view = view;
  return view;
}"""
