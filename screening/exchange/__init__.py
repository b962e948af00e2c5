"""Exchange formats: FHIR R4 (Questionnaire, QuestionnaireResponse bundle) and CSV with a data dictionary.

Plain Python (no Flask): the admin pages, the API and the CLI call these modules. FHIR resources are
checked against the R4B models of the ``fhir.resources`` package (R4B is R4 for every resource used
here; see README "Exchange").
"""
