"""Badge rendering for the "Sello de Confianza Online": SVG builders and PNG output."""
